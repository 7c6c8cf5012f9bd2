#include "engine/checkpoint/checkpoint_dir.h"

#include <stdio.h>
#include <sys/stat.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/checkpoint/output_dir.h"
#include "engine/util/durable.h"
#include "engine/util/files.h"
#include "engine/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace zerod::checkpoint {
namespace {

constexpr const char* kMetaFile = kMetaFileName;
constexpr int kFormat = 1;

// The fields of one object of zerod_checkpoint.json, read with their types and ranges
// checked by hand: nlohmann's get<int64_t>() converts 1e30 with undefined behaviour and
// wraps an unsigned above INT64_MAX, and a damaged file must be refused, not misread.
struct MetaFields {
  const nlohmann::json& object;
  const std::string& path;  // the file, for errors
  std::string prefix;       // "loss_scaler." for the nested object

  absl::Status Error(const char* key, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", prefix, key, " ", what));
  }
  // An integer in [lo, hi].
  absl::StatusOr<int64_t> Int(const char* key, int64_t lo, int64_t hi) const {
    auto it = object.find(key);
    if (it == object.end()) return Error(key, "is missing");
    const bool fits = it->is_number_integer() &&
                      !(it->is_number_unsigned() && it->get<uint64_t>() > INT64_MAX) &&
                      lo <= it->get<int64_t>() && it->get<int64_t>() <= hi;
    if (!fits) {
      return Error(
          key, absl::StrCat("is ", it->dump(), "; it must be an integer in [", lo, ", ", hi, "]"));
    }
    return it->get<int64_t>();
  }
  // A finite number above zero.
  absl::StatusOr<double> Positive(const char* key) const {
    auto it = object.find(key);
    if (it == object.end()) return Error(key, "is missing");
    if (!it->is_number() || !(it->get<double>() > 0) || !std::isfinite(it->get<double>()))
      return Error(key, absl::StrCat("is ", it->dump(), "; it must be a number above 0"));
    return it->get<double>();
  }
};

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

absl::Status CopyFile(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(from, " cannot be read"));
  std::ofstream out(to, std::ios::binary);
  out << in.rdbuf();
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", to));
  return SyncPath(to);
}

absl::Status Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", from, " to ", to));
  }
  return absl::OkStatus();
}

}  // namespace

std::string StagingDir(const std::string& dir) { return dir + ".partial"; }

std::optional<int64_t> PeriodicStep(const std::string& name) {
  constexpr size_t kPrefix = 5;  // "step_"
  if (name.rfind("step_", 0) != 0 || name.size() < kPrefix + 8 || name.size() > kPrefix + 18) {
    return std::nullopt;
  }
  int64_t step = 0;
  for (size_t i = kPrefix; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    step = step * 10 + (name[i] - '0');
  }
  return step;
}

namespace {

// The periodic checkpoints directly inside `dir`, oldest first: (step, name).
absl::StatusOr<std::vector<std::pair<int64_t, std::string>>> PeriodicCheckpoints(
    const std::string& dir) {
  ASSIGN_OR_RETURN(const std::vector<std::string> names, ListDirectory(dir));
  std::vector<std::pair<int64_t, std::string>> periodic;
  for (const std::string& name : names) {
    const std::optional<int64_t> step = PeriodicStep(name);
    if (step && IsDirectory(JoinPath(dir, name))) periodic.emplace_back(*step, name);
  }
  std::sort(periodic.begin(), periodic.end());
  return periodic;
}

}  // namespace

std::vector<std::string> PeriodicCheckpointDirs(const std::string& save_dir) {
  std::vector<std::string> dirs;
  if (!IsDirectory(save_dir)) return dirs;
  auto periodic = PeriodicCheckpoints(save_dir);
  if (!periodic.ok()) return dirs;
  for (const auto& [step, name] : *periodic) dirs.push_back(JoinPath(save_dir, name));
  return dirs;
}

std::string PeriodicCheckpointDir(const std::string& save_dir, int64_t step) {
  return JoinPath(save_dir, absl::StrFormat("step_%08d", step));
}

absl::Status KeepNewestCheckpoints(const std::string& save_dir, int64_t keep) {
  ASSIGN_OR_RETURN(const auto periodic, PeriodicCheckpoints(save_dir));
  for (size_t i = 0; i + static_cast<size_t>(std::max<int64_t>(1, keep)) < periodic.size(); ++i) {
    const std::string path = JoinPath(save_dir, periodic[i].second);
    // Only a checkpoint zerod wrote goes (a step_ directory of the user's own stays).
    if (!CheckReplaceable(path, OutputKind::kCheckpoint).ok()) continue;
    if (auto s = RemoveTree(path); !s.ok()) {
      return absl::InternalError(absl::StrCat("removing the old checkpoint: ", s.message()));
    }
  }
  return absl::OkStatus();
}

std::string RankStateFile(const std::string& dir, int rank, int world_size) {
  return JoinPath(dir, absl::StrFormat("rank_%05d_of_%05d.safetensors", rank, world_size));
}

absl::Status PrepareStaging(const std::string& dir) {
  // Nothing is removed (a stale DIR.partial, later DIR itself) unless zerod wrote it.
  RETURN_IF_ERROR(CheckReplaceable(dir, OutputKind::kCheckpoint));
  const std::string staging = StagingDir(dir);
  if (auto s = RemoveTree(staging); !s.ok()) return s;
  return MakeDirectories(staging);
}

absl::Status WriteMeta(const std::string& staging, const CheckpointMeta& m,
                       const std::string& model_dir) {
  nlohmann::ordered_json j = {
      {"format", kFormat},
      {"step", m.step},
      {"lr_iteration", m.lr_iteration},
      {"world_size", m.world_size},
      {"num_parameters", m.num_parameters},
      {"dtype", m.dtype},
      {"loss_scaler",
       {{"scale", m.loss_scale},
        {"hysteresis_left", m.hysteresis_left},
        {"iteration", m.scaler_iteration},
        {"last_overflow_iteration", m.last_overflow_iteration}}},
  };
  std::ofstream out(JoinPath(staging, kMetaFile));
  out << j.dump(2) << "\n";
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", JoinPath(staging, kMetaFile)));
  RETURN_IF_ERROR(SyncPath(JoinPath(staging, kMetaFile)));
  RETURN_IF_ERROR(CopyFile(JoinPath(model_dir, "config.json"), JoinPath(staging, "config.json")));
  // The tokenizer and generation files travel with the checkpoint, so that an export
  // from it (`--export-hf --from-checkpoint`) is a whole model directory.
  for (const std::string& name : CompanionFiles()) {
    if (!Exists(JoinPath(model_dir, name))) continue;
    RETURN_IF_ERROR(CopyFile(JoinPath(model_dir, name), JoinPath(staging, name)));
  }
  return absl::OkStatus();
}

std::string PreviousDir(const std::string& dir) { return dir + ".old"; }

absl::Status FinishInterruptedPublish(const std::string& dir) {
  const std::string old = PreviousDir(dir);
  if (!Exists(old)) return absl::OkStatus();
  // Died between the swap's two renames: DIR.old is the last complete checkpoint.
  if (!Exists(dir)) return Rename(old, dir);
  // Died after the swap: the job's periodic checkpoints (PeriodicCheckpointDir: they live
  // inside DIR) move into the new DIR instead of going away with the old one.
  ASSIGN_OR_RETURN(const auto periodic, PeriodicCheckpoints(old));
  for (const auto& [step, name] : periodic) {
    if (Exists(JoinPath(dir, name))) continue;
    if (auto s = Rename(JoinPath(old, name), JoinPath(dir, name)); !s.ok()) {
      return absl::InternalError(
          absl::StrCat(s.message(), " (the old checkpoint is still in ", old, ")"));
    }
  }
  return RemoveTree(old);
}

absl::Status Publish(const std::string& dir) {
  // Checked again here, not only before the ranks wrote: the directory may have gained
  // files of someone else's since.
  RETURN_IF_ERROR(CheckReplaceable(dir, OutputKind::kCheckpoint));
  RETURN_IF_ERROR(FinishInterruptedPublish(dir));
  const std::string old = PreviousDir(dir);
  const bool had = Exists(dir);
  // Every file in the staging directory is synced (each rank its own shard, rank 0 the
  // rest: util/durable.h); the directory's entries now, before a rename publishes them.
  RETURN_IF_ERROR(SyncPath(StagingDir(dir)));
  if (had) RETURN_IF_ERROR(Rename(dir, old));
  if (auto s = Rename(StagingDir(dir), dir); !s.ok()) {
    if (had) (void)Rename(old, dir);  // put the previous checkpoint back
    return s;
  }
  RETURN_IF_ERROR(SyncPath(ParentDir(dir)));  // the renames themselves
  return FinishInterruptedPublish(dir);
}

absl::StatusOr<CheckpointMeta> ReadMeta(const std::string& dir) {
  const std::string path = JoinPath(dir, kMetaFile);
  const std::optional<std::string> text = ReadFileToString(path);
  if (!text) {
    const bool previous = ReadFileToString(JoinPath(PreviousDir(dir), kMetaFile)).has_value();
    return absl::NotFoundError(absl::StrCat(
        "resume_from: ", dir, " is not a zerod checkpoint (no ", kMetaFile, ")",
        previous ? absl::StrCat("; a save into it was cut short: the last complete checkpoint is ",
                                PreviousDir(dir), " (resume from it; the next save into ", dir,
                                " puts it back first)")
                 : ""));
  }
  return ParseMeta(*text, path);
}

absl::StatusOr<CheckpointMeta> ParseMeta(const std::string& text, const std::string& path) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not valid JSON"));
  }
  const MetaFields top{j, path, ""};
  ASSIGN_OR_RETURN(const int64_t format, top.Int("format", INT64_MIN, INT64_MAX));
  if (format != kFormat) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": format ", format, " is not ", kFormat));
  }
  CheckpointMeta m;
  ASSIGN_OR_RETURN(m.step, top.Int("step", 0, INT64_MAX));
  ASSIGN_OR_RETURN(m.lr_iteration, top.Int("lr_iteration", 0, INT64_MAX));
  ASSIGN_OR_RETURN(m.world_size, top.Int("world_size", 1, INT_MAX));
  ASSIGN_OR_RETURN(m.num_parameters, top.Int("num_parameters", 0, INT64_MAX));
  auto dtype = j.find("dtype");
  if (dtype == j.end() || !dtype->is_string()) return top.Error("dtype", "must be a string");
  m.dtype = dtype->get<std::string>();
  auto ls = j.find("loss_scaler");
  if (ls == j.end() || !ls->is_object()) return top.Error("loss_scaler", "must be an object");
  const MetaFields scaler{*ls, path, "loss_scaler."};
  ASSIGN_OR_RETURN(m.loss_scale, scaler.Positive("scale"));
  ASSIGN_OR_RETURN(m.hysteresis_left, scaler.Int("hysteresis_left", 0, INT_MAX));
  ASSIGN_OR_RETURN(m.scaler_iteration, scaler.Int("iteration", 0, INT64_MAX));
  ASSIGN_OR_RETURN(m.last_overflow_iteration, scaler.Int("last_overflow_iteration", -1, INT64_MAX));
  return m;
}

}  // namespace zerod::checkpoint
