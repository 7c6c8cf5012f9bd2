#include "engine/config/job_file.h"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/util/edit_distance.h"

namespace zerod::config {
namespace {

// "file:LINE: key " for an error about `node` (yaml-cpp counts lines from 0).
std::string Where(const std::string& source, const YAML::Node& node, const std::string& key) {
  return absl::StrCat(source, ":", node.Mark().line + 1, ": ", key, " ");
}

// Reads the scalar `node` as T, or says what was expected and where.
template <typename T>
absl::StatusOr<T> As(const std::string& source, const YAML::Node& node, const std::string& key,
                     const char* expected) {
  if (!node.IsScalar()) {
    return absl::InvalidArgumentError(absl::StrCat(Where(source, node, key), "must be ", expected));
  }
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    return absl::InvalidArgumentError(absl::StrCat(Where(source, node, key), "must be ", expected,
                                                   ", got \"", node.Scalar(), "\""));
  }
}

using Setter = std::function<absl::Status(const std::string& source, const YAML::Node& node,
                                          const std::string& key, JobSpec& out)>;

// The type a field's value is read as: T for std::optional<T> fields (unset when absent).
template <typename T>
struct ValueOf {
  using type = T;
};
template <typename T>
struct ValueOf<std::optional<T>> {
  using type = T;
};

template <typename Field>
Setter Set(Field JobSpec::*field, const char* expected) {
  return [field, expected](const std::string& source, const YAML::Node& node,
                           const std::string& key, JobSpec& out) -> absl::Status {
    auto value = As<typename ValueOf<Field>::type>(source, node, key, expected);
    if (!value.ok()) return value.status();
    out.*field = *value;
    return absl::OkStatus();
  };
}

const std::map<std::string, Setter>& Keys() {
  static const auto* keys = new std::map<std::string, Setter>{
      {"model", Set(&JobSpec::model_dir, "a model directory")},
      {"ds_config", Set(&JobSpec::ds_config_path, "a DeepSpeed config file")},
      {"data", Set(&JobSpec::data_path, "a token file")},
      {"data_dtype", Set(&JobSpec::data_dtype, "uint16 or uint32")},
      {"steps", Set(&JobSpec::steps, "a whole number")},
      {"seq_len", Set(&JobSpec::seq_len, "a whole number")},
      {"seed", Set(&JobSpec::seed, "a whole number")},
      {"activation_checkpointing", Set(&JobSpec::activation_checkpointing, "true or false")},
      {"resume", Set(&JobSpec::resume_from, "a checkpoint directory")},
      {"save_dir", Set(&JobSpec::save_dir, "a directory")},
      {"save_every", Set(&JobSpec::save_every, "a whole number")},
      {"keep_checkpoints", Set(&JobSpec::keep_checkpoints, "a whole number")},
      {"micro_batch_size", Set(&JobSpec::micro_batch_size, "a whole number")},
      {"grad_accum", Set(&JobSpec::grad_accum, "a whole number")},
      {"lr", Set(&JobSpec::lr, "a number")},
      {"warmup_steps", Set(&JobSpec::warmup_steps, "a whole number")},
      {"precision", Set(&JobSpec::precision, "bf16, fp16 or fp32")},
      {"export_hf", Set(&JobSpec::export_hf_dir, "a directory")},
      {"name", Set(&JobSpec::name, "a label")},
  };
  return *keys;
}

}  // namespace

absl::StatusOr<JobSpec> ParseJobFile(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
  }
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": a job file is a mapping of keys (model: ..., steps: ...)"));
  }
  JobSpec out;
  for (const auto& entry : root) {
    const std::string written = entry.first.as<std::string>();
    const std::string key = absl::StrReplaceAll(written, {{"-", "_"}});
    auto it = Keys().find(key);
    if (it == Keys().end()) {
      std::string closest;
      size_t best = SIZE_MAX;
      for (const auto& [known, unused] : Keys()) {
        if (const size_t d = EditDistance(key, known); d < best) best = d, closest = known;
      }
      return absl::InvalidArgumentError(absl::StrCat(Where(source, entry.first, written),
                                                     "is not a job setting; did you mean \"",
                                                     closest, "\"?"));
    }
    if (absl::Status s = it->second(source, entry.second, written, out); !s.ok()) return s;
  }
  return out;
}

absl::StatusOr<JobSpec> LoadJobFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("job file ", path, " cannot be read; pass an existing --job file"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseJobFile(text.str(), path);
}

}  // namespace zerod::config
