#include "engine/models/hf_config.h"

#include "absl/strings/str_cat.h"
#include "engine/config/json_reader.h"
#include "engine/models/hf_config_parsers.h"
#include "engine/util/files.h"
#include "engine/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace zerod::models {
namespace {

// What distinguishes the Llama-family architectures zerod accepts.
struct LlamaVariant {
  const char* architecture;
  const char* model_type;
};
constexpr LlamaVariant kLlamaVariants[] = {{"LlamaForCausalLM", "llama"},
                                           {"MistralForCausalLM", "mistral"},
                                           {"Qwen2ForCausalLM", "qwen2"}};

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

int64_t LlamaConfig::NumParameters() const {
  const int64_t h = hidden_size, q = num_attention_heads * head_dim,
                kv = num_key_value_heads * head_dim, f = intermediate_size;
  int64_t attn = h * q + 2 * h * kv + q * h;
  if (qkv_bias) attn += q + 2 * kv;
  if (o_bias) attn += h;
  int64_t mlp = 3 * h * f;
  if (mlp_bias) mlp += 2 * f + h;
  const int64_t layer = attn + mlp + 2 * h;
  return vocab_size * h /*embed*/ + num_hidden_layers * layer + h /*norm*/ +
         (tie_word_embeddings ? 0 : vocab_size * h) /*head*/;
}

const std::string& ModelConfig::architecture() const {
  static const std::string kGpt2 = "GPT2LMHeadModel";
  return llama() ? llama()->architecture : kGpt2;
}

int64_t ModelConfig::vocab_size() const {
  return llama() ? llama()->vocab_size : gpt2()->vocab_size;
}

int64_t ModelConfig::hidden_size() const { return llama() ? llama()->hidden_size : gpt2()->n_embd; }

int64_t ModelConfig::max_positions() const {
  return llama() ? llama()->max_position_embeddings : gpt2()->n_positions;
}

double ModelConfig::initializer_range() const {
  return llama() ? llama()->initializer_range : gpt2()->initializer_range;
}

std::string ModelConfig::DropoutNote() const {
  const double p = llama() ? llama()->ignored_dropout : gpt2()->ignored_dropout;
  if (p == 0.0) return "";
  return absl::StrCat("config.json asks for dropout (up to ", p,
                      "); zerod trains without dropout, like DeepSpeed runs with dropout off");
}

absl::Status ModelConfig::CheckSequenceLength(int64_t seq_len) const {
  const char* field = llama() ? "max_position_embeddings" : "n_positions";
  if (seq_len > max_positions()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--seq-len ", seq_len, " exceeds the model's ", field, " ", max_positions()));
  }
  // A window at least as long as the sequence masks nothing the causal mask keeps.
  if (llama() && llama()->sliding_window > 0 && seq_len > llama()->sliding_window) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--seq-len ", seq_len, " exceeds the model's sliding_window ", llama()->sliding_window,
        "; zerod implements full causal attention only: use --seq-len <= ",
        llama()->sliding_window));
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
  for (const LlamaVariant& v : kLlamaVariants) {
    if (architecture != v.architecture) continue;
    ASSIGN_OR_RETURN(std::string model_type, r.String("model_type", v.model_type));
    if (model_type != v.model_type) {
      return r.Error("model_type", absl::StrCat("is \"", model_type, "\"; ", architecture,
                                                " expects \"", v.model_type, "\""));
    }
    ASSIGN_OR_RETURN(LlamaConfig c, internal::ParseLlamaFamily(json, r, architecture));
    return ModelConfig{c};
  }
  return r.Error("architectures",
                 absl::StrCat("is [\"", architecture,
                              "\"]; zerod supports LlamaForCausalLM, MistralForCausalLM, "
                              "Qwen2ForCausalLM and GPT2LMHeadModel"));
}

absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& model_dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(model_dir));
  return ParseModelConfig(text, JoinPath(model_dir, "config.json"));
}

absl::StatusOr<LlamaConfig> ParseLlamaConfig(const std::string& text, const std::string& source) {
  ASSIGN_OR_RETURN(ModelConfig c, ParseModelConfig(text, source));
  if (c.llama() == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": architectures is [\"", c.architecture(),
                     "\"]; this tool takes Llama-family models only"));
  }
  return *c.llama();
}

absl::StatusOr<LlamaConfig> LoadLlamaConfig(const std::string& model_dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(model_dir));
  return ParseLlamaConfig(text, JoinPath(model_dir, "config.json"));
}

}  // namespace zerod::models
