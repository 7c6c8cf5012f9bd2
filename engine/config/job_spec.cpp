#include "engine/config/job_spec.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/checkpoint/checkpoint_dir.h"
#include "engine/checkpoint/output_dir.h"
#include "engine/config/job_fields.h"
#include "engine/models/model_dir.h"
#include "engine/util/files.h"
#include "engine/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace zerod::config {
namespace {

absl::Status Invalid(const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

absl::Status CheckPathText(const std::string& field, const std::string& path) {
  if (path.empty()) return Invalid(field, "is required");
  if (path.size() > kMaxPathBytes)
    return Invalid(field, absl::StrCat("longer than ", kMaxPathBytes, " bytes"));
  if (path.find('\0') != std::string::npos) return Invalid(field, "contains a NUL byte");
  return absl::OkStatus();
}

absl::Status ReadableFile(const std::string& field, const std::string& path) {
  if (auto s = CheckPathText(field, path); !s.ok()) return s;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    return Invalid(field, absl::StrCat(path, " cannot be opened: ", std::strerror(errno)));
  if (!S_ISREG(st.st_mode)) return Invalid(field, absl::StrCat(path, " is not a file"));
  if (::access(path.c_str(), R_OK) != 0)
    return Invalid(field, absl::StrCat(path, " is not readable by the daemons"));
  return absl::OkStatus();
}

absl::Status ReadableDir(const std::string& field, const std::string& path) {
  if (auto s = CheckPathText(field, path); !s.ok()) return s;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return Invalid(field, absl::StrCat(path, " is not a directory"));
  if (::access(path.c_str(), R_OK | X_OK) != 0)
    return Invalid(field, absl::StrCat(path, " is not readable by the daemons"));
  return absl::OkStatus();
}

absl::Status ValidateModelDir(JobSpec* spec) {
  if (auto s = CheckPathText("model_dir", spec->model_dir); !s.ok()) return s;
  // A Hub id means its snapshot in the local Hugging Face cache.
  auto dir = models::ResolveModelDir(spec->model_dir);
  if (!dir.ok()) return Invalid("model_dir", std::string(dir.status().message()));
  spec->model_dir = *dir;
  if (auto s = ReadableDir("model_dir", spec->model_dir); !s.ok()) return s;
  if (!ReadableFile("model_dir", spec->model_dir + "/config.json").ok()) {
    return Invalid("model_dir", absl::StrCat(spec->model_dir,
                                             " has no readable config.json (a Hugging Face "
                                             "model directory is needed)"));
  }
  // A resumed job takes its weights from the checkpoint, not from the model directory.
  if (!spec->resume_from.empty()) return absl::OkStatus();
  return models::CheckModelWeights(spec->model_dir, spec->init == "random");
}

absl::Status ValidateDsConfig(const JobSpec& spec) {
  const bool has_path = !spec.ds_config_path.empty();
  const bool has_json = !spec.ds_config_json.empty();
  if (has_path == has_json) {
    return Invalid("ds_config_path", "give exactly one of ds_config_path and ds_config_json");
  }
  if (has_path) return ReadableFile("ds_config_path", spec.ds_config_path);
  RETURN_IF_ERROR(CheckField(*FindJobField("ds_config_json"), spec));  // its size, before parsing
  auto parsed = nlohmann::json::parse(spec.ds_config_json, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object())
    return Invalid("ds_config_json", "is not a JSON object");
  return absl::OkStatus();
}

// A save directory (a job's --save-dir, killed mid-job) holds its newest checkpoint in a
// step_ directory: --resume takes the newest complete one in it.
absl::Status ResolveResume(JobSpec* spec) {
  if (auto s = CheckPathText("resume_from", spec->resume_from); !s.ok()) return s;
  // A save cut short inside its swap leaves the last complete checkpoint in DIR.old
  // (engine/checkpoint/checkpoint_dir.h); the next save into DIR puts it back.
  const std::string previous = checkpoint::PreviousDir(spec->resume_from);
  const std::string meta = JoinPath(spec->resume_from, checkpoint::kMetaFileName);
  if (!ReadableFile("resume_from", meta).ok() &&
      ReadableFile("resume_from", JoinPath(previous, checkpoint::kMetaFileName)).ok()) {
    return Invalid("resume_from",
                   absl::StrCat(spec->resume_from,
                                " is not a zerod checkpoint: a save into it was cut short; the "
                                "last complete checkpoint is ",
                                previous, " (resume from it)"));
  }
  const std::optional<std::string> newest = checkpoint::NewestCheckpoint(spec->resume_from);
  if (!newest) {
    return Invalid("resume_from", absl::StrCat(spec->resume_from,
                                               " is not a zerod checkpoint (no readable "
                                               "zerod_checkpoint.json) and holds no periodic "
                                               "checkpoint (step_NNNNNNNN) that is complete"));
  }
  spec->resume_from = *newest;
  return absl::OkStatus();
}

// `path` resolved (symbolic links, "..", relative parts); nullopt when it does not exist.
std::optional<std::string> RealPath(const std::string& path) {
  char* real = ::realpath(path.c_str(), nullptr);
  if (real == nullptr) return std::nullopt;
  std::string out(real);
  std::free(real);
  return out;
}

// `inner` is `outer` or lies inside it (both resolved).
bool IsSameOrInside(const std::string& inner, const std::string& outer) {
  return inner == outer ||
         (inner.size() > outer.size() && inner.compare(0, outer.size(), outer) == 0 &&
          (outer == "/" || inner[outer.size()] == '/'));
}

// A save or export target: a directory zerod may write, that is not and does not hold
// the job's inputs or the daemons' state, and that holds nothing zerod did not write
// (checkpoint/output_dir.h). Checked here, at submit, so that a job never trains for hours
// towards a save that must refuse.
absl::Status ValidateOutputTarget(const std::string& field, const std::string& dir,
                                  checkpoint::OutputKind kind, const JobSpec& spec,
                                  const std::vector<std::string>& daemon_dirs) {
  RETURN_IF_ERROR(ValidateOutputDir(field, dir));
  if (const std::optional<std::string> target = RealPath(dir)) {
    struct Guarded {
      std::string what;
      std::string path;
    };
    std::vector<Guarded> guarded = {{"the job's model directory (model_dir)", spec.model_dir},
                                    {"the job's data file (data_path)", spec.data_path}};
    for (const std::string& d : daemon_dirs) {
      guarded.push_back({"the daemons' state directory (--state-dir, the job journal)", d});
    }
    for (const Guarded& g : guarded) {
      const std::optional<std::string> real = g.path.empty() ? std::nullopt : RealPath(g.path);
      if (!real || !IsSameOrInside(*real, *target)) continue;
      return Invalid(field, absl::StrCat(dir, *real == *target ? " is " : " holds ", g.what, " ",
                                         *real, ": choose another directory"));
    }
  }
  if (auto s = checkpoint::CheckReplaceable(dir, kind); !s.ok()) {
    return Invalid(field, std::string(s.message()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateJobSpec(JobSpec* spec, const std::vector<std::string>& daemon_dirs) {
  if (auto s = ValidateModelDir(spec); !s.ok()) return s;
  if (auto s = ValidateDsConfig(*spec); !s.ok()) return s;
  if (auto s = ReadableFile("data_path", spec->data_path); !s.ok()) return s;
  // Every field's range or choices, from the table (job_fields.h).
  if (auto s = CheckJobValues(*spec); !s.ok()) return s;
  if (!spec->resume_from.empty()) {
    if (auto s = ResolveResume(spec); !s.ok()) return s;
  }
  if (!spec->save_dir.empty()) {
    if (auto s = ValidateOutputTarget("save_dir", spec->save_dir,
                                      checkpoint::OutputKind::kCheckpoint, *spec, daemon_dirs);
        !s.ok())
      return s;
  }
  if (!spec->export_hf_dir.empty()) {
    if (auto s = ValidateOutputTarget("export_hf_dir", spec->export_hf_dir,
                                      checkpoint::OutputKind::kHfExport, *spec, daemon_dirs);
        !s.ok())
      return s;
  }
  if (!spec->tensorboard_dir.empty()) {
    if (auto s = ValidateOutputDir("tensorboard_dir", spec->tensorboard_dir); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status ValidateSaveDir(const std::string& field, const std::string& dir, const JobSpec& spec,
                             const std::vector<std::string>& daemon_dirs) {
  return ValidateOutputTarget(field, dir, checkpoint::OutputKind::kCheckpoint, spec, daemon_dirs);
}

absl::Status ValidateExportDir(const std::string& field, const std::string& dir,
                               const JobSpec& spec, const std::vector<std::string>& daemon_dirs) {
  return ValidateOutputTarget(field, dir, checkpoint::OutputKind::kHfExport, spec, daemon_dirs);
}

absl::Status ValidateOutputDir(const std::string& field, const std::string& dir) {
  if (auto s = CheckPathText(field, dir); !s.ok()) return s;
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0 && !S_ISDIR(st.st_mode))
    return Invalid(field, absl::StrCat(dir, " exists and is not a directory"));
  return absl::OkStatus();
}

}  // namespace zerod::config
