#include "engine/models/hf_config.h"

#include "absl/strings/str_cat.h"
#include "engine/config/json_reader.h"
#include "engine/models/family.h"
#include "engine/models/hf_config_parsers.h"
#include "engine/util/files.h"
#include "engine/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace zerod::models {
namespace {

absl::StatusOr<std::string> Architecture(const nlohmann::json& json, config::JsonReader& r) {
  if (!json.contains("architectures")) return std::string("LlamaForCausalLM");
  const auto& arch = json["architectures"];
  if (!arch.is_array() || arch.size() != 1 || !arch[0].is_string()) {
    return r.Error("architectures", "must be a list with one class name");
  }
  return arch[0].get<std::string>();
}

absl::StatusOr<std::string> ReadFile(const std::string& model_dir) {
  if (!IsDirectory(model_dir)) {
    return absl::NotFoundError(absl::StrCat(
        "model directory ", model_dir, " does not exist; pass --model DIR holding config.json"));
  }
  const std::string path = JoinPath(model_dir, "config.json");
  std::optional<std::string> text = ReadFileToString(path);
  if (!text)
    return absl::NotFoundError(
        absl::StrCat(path, " cannot be read; a model directory needs config.json"));
  return *std::move(text);
}

}  // namespace

const std::string& ModelConfig::architecture() const {
  static const std::string kGpt2 = "GPT2LMHeadModel";
  return decoder() ? decoder()->architecture : kGpt2;
}

int64_t ModelConfig::vocab_size() const {
  return decoder() ? decoder()->vocab_size : gpt2()->vocab_size;
}

int64_t ModelConfig::hidden_size() const {
  return decoder() ? decoder()->hidden_size : gpt2()->n_embd;
}

int64_t ModelConfig::max_positions() const {
  return decoder() ? decoder()->max_position_embeddings : gpt2()->n_positions;
}

double ModelConfig::initializer_range() const {
  return decoder() ? decoder()->initializer_range : gpt2()->initializer_range;
}

std::string ModelConfig::DropoutNote() const {
  const double p = decoder() ? decoder()->ignored_dropout : gpt2()->ignored_dropout;
  if (p == 0.0) return "";
  return absl::StrCat("config.json asks for dropout (up to ", p,
                      "); zerod trains without dropout, like DeepSpeed runs with dropout off");
}

absl::Status ModelConfig::CheckSequenceLength(int64_t seq_len) const {
  const char* field = decoder() ? "max_position_embeddings" : "n_positions";
  if (seq_len > max_positions()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--seq-len ", seq_len, " exceeds the model's ", field, " ", max_positions()));
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& text, const std::string& source) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a JSON object"));
  }
  config::JsonReader r(json, source);
  ASSIGN_OR_RETURN(std::string architecture, Architecture(json, r));
  if (architecture == "GPT2LMHeadModel") {
    ASSIGN_OR_RETURN(Gpt2Config c, internal::ParseGpt2(json, r));
    return ModelConfig{c};
  }
  if (const Family* family = FindFamily(architecture)) {
    ASSIGN_OR_RETURN(DecoderConfig c, ParseDecoderFamily(json, *family, source));
    return ModelConfig{c};
  }
  return r.Error("architectures", absl::StrCat("is [\"", architecture, "\"]; zerod supports ",
                                               SupportedArchitectures()));
}

absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& model_dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(model_dir));
  return ParseModelConfig(text, JoinPath(model_dir, "config.json"));
}

absl::StatusOr<DecoderConfig> ParseDecoderConfig(const std::string& text,
                                                 const std::string& source) {
  ASSIGN_OR_RETURN(ModelConfig c, ParseModelConfig(text, source));
  if (c.decoder() == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": architectures is [\"", c.architecture(),
                     "\"]; this tool takes the decoder families only, not GPT-2"));
  }
  return *c.decoder();
}

absl::StatusOr<DecoderConfig> LoadDecoderConfig(const std::string& model_dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(model_dir));
  return ParseDecoderConfig(text, JoinPath(model_dir, "config.json"));
}

}  // namespace zerod::models
