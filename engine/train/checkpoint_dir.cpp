#include "engine/train/checkpoint_dir.h"

#include <stdio.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/util/files.h"
#include "nlohmann/json.hpp"

namespace zerod::train {
namespace {

constexpr char kMetaFile[] = "zerod_checkpoint.json";
constexpr int kFormat = 1;

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

absl::Status CopyFile(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(from, " cannot be read"));
  std::ofstream out(to, std::ios::binary);
  out << in.rdbuf();
  out.flush();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", to));
  return absl::OkStatus();
}

absl::Status Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", from, " to ", to));
  }
  return absl::OkStatus();
}

}  // namespace

std::string StagingDir(const std::string& dir) { return dir + ".partial"; }

std::string RankStateFile(const std::string& dir, int rank, int world_size) {
  return JoinPath(dir, absl::StrFormat("rank_%05d_of_%05d.safetensors", rank, world_size));
}

absl::Status PrepareStaging(const std::string& dir) {
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
  out.flush();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", JoinPath(staging, kMetaFile)));
  return CopyFile(JoinPath(model_dir, "config.json"), JoinPath(staging, "config.json"));
}

absl::Status Publish(const std::string& dir) {
  const std::string old = dir + ".old";
  if (auto s = RemoveTree(old); !s.ok()) return s;
  const bool had = Exists(dir);
  if (had) {
    if (auto s = Rename(dir, old); !s.ok()) return s;
  }
  if (auto s = Rename(StagingDir(dir), dir); !s.ok()) {
    if (had) (void)Rename(old, dir);  // put the previous checkpoint back
    return s;
  }
  return had ? RemoveTree(old) : absl::OkStatus();
}

absl::StatusOr<CheckpointMeta> ReadMeta(const std::string& dir) {
  const std::string path = JoinPath(dir, kMetaFile);
  const std::optional<std::string> text = ReadFileToString(path);
  if (!text) {
    return absl::NotFoundError(
        absl::StrCat("resume_from: ", dir, " is not a zerod checkpoint (no ", kMetaFile, ")"));
  }
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not valid JSON"));
  }
  try {
    if (j.at("format").get<int>() != kFormat) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": format ", j.at("format").dump(), " is not ", kFormat));
    }
    CheckpointMeta m;
    m.step = j.at("step").get<int64_t>();
    m.lr_iteration = j.at("lr_iteration").get<int64_t>();
    m.world_size = j.at("world_size").get<int>();
    m.num_parameters = j.at("num_parameters").get<int64_t>();
    m.dtype = j.at("dtype").get<std::string>();
    const auto& ls = j.at("loss_scaler");
    m.loss_scale = ls.at("scale").get<double>();
    m.hysteresis_left = ls.at("hysteresis_left").get<int>();
    m.scaler_iteration = ls.at("iteration").get<int64_t>();
    m.last_overflow_iteration = ls.at("last_overflow_iteration").get<int64_t>();
    return m;
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", e.what()));
  }
}

}  // namespace zerod::train
