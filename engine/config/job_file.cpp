#include "engine/config/job_file.h"

#include <fstream>
#include <sstream>

#include "engine/config/yaml_struct.h"

namespace zerod::config {
namespace {

const YamlKeys<JobSpec>& Keys() {
  static const auto* keys = new YamlKeys<JobSpec>{
      {"model", YamlMember(&JobSpec::model_dir, "a model directory")},
      {"ds_config", YamlMember(&JobSpec::ds_config_path, "a DeepSpeed config file")},
      {"data", YamlMember(&JobSpec::data_path, "a token file")},
      {"data_dtype", YamlMember(&JobSpec::data_dtype, "uint16 or uint32")},
      {"steps", YamlMember(&JobSpec::steps, "a whole number")},
      {"seq_len", YamlMember(&JobSpec::seq_len, "a whole number")},
      {"seed", YamlMember(&JobSpec::seed, "a whole number")},
      {"activation_checkpointing", YamlMember(&JobSpec::activation_checkpointing, "true or false")},
      {"resume", YamlMember(&JobSpec::resume_from, "a checkpoint directory")},
      {"save_dir", YamlMember(&JobSpec::save_dir, "a directory")},
      {"save_every", YamlMember(&JobSpec::save_every, "a whole number")},
      {"keep_checkpoints", YamlMember(&JobSpec::keep_checkpoints, "a whole number")},
      {"micro_batch_size", YamlMember(&JobSpec::micro_batch_size, "a whole number")},
      {"grad_accum", YamlMember(&JobSpec::grad_accum, "a whole number")},
      {"lr", YamlMember(&JobSpec::lr, "a number")},
      {"warmup_steps", YamlMember(&JobSpec::warmup_steps, "a whole number")},
      {"precision", YamlMember(&JobSpec::precision, "bf16, fp16 or fp32")},
      {"init", YamlMember(&JobSpec::init, "auto or random")},
      {"export_hf", YamlMember(&JobSpec::export_hf_dir, "a directory")},
      {"name", YamlMember(&JobSpec::name, "a label")},
      {"tensorboard", YamlMember(&JobSpec::tensorboard_dir, "a directory")},
  };
  return *keys;
}

}  // namespace

absl::StatusOr<std::string> ReadYamlFile(const std::string& path, const std::string& flag) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(flag, " file ", path, " cannot be read; pass an existing ", flag, " file"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<JobSpec> ParseJobFile(const std::string& text, const std::string& source) {
  JobSpec out;
  if (absl::Status s = ReadYamlStruct(text, source, Keys(), "a job setting", out); !s.ok()) {
    return s;
  }
  return out;
}

absl::StatusOr<JobSpec> LoadJobFile(const std::string& path) {
  auto text = ReadYamlFile(path, "--job");
  if (!text.ok()) return text.status();
  return ParseJobFile(*text, path);
}

}  // namespace zerod::config
