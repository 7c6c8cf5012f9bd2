#include "engine/models/hf_config.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "engine/config/json_reader.h"
#include "engine/util/files.h"
#include "engine/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace zerod::models {

int64_t LlamaConfig::NumParameters() const {
  const int64_t h = hidden_size, q = num_attention_heads * head_dim,
                kv = num_key_value_heads * head_dim, f = intermediate_size;
  int64_t attn = h * q + 2 * h * kv + q * h;
  if (attention_bias) attn += q + 2 * kv + h;
  int64_t mlp = 3 * h * f;
  if (mlp_bias) mlp += 2 * f + h;
  const int64_t layer = attn + mlp + 2 * h;
  return vocab_size * h /*embed*/ + num_hidden_layers * layer + h /*norm*/ +
         vocab_size * h /*head*/;
}

absl::StatusOr<LlamaConfig> ParseLlamaConfig(const std::string& text, const std::string& source) {
  nlohmann::json json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not a JSON object"));
  }
  config::JsonReader r(json, source);
  LlamaConfig c;
  if (json.contains("architectures")) {
    const auto& arch = json["architectures"];
    if (!arch.is_array() || arch.size() != 1 || !arch[0].is_string()) {
      return r.Error("architectures", "must be a list with one class name");
    }
    c.architecture = arch[0].get<std::string>();
  }
  if (c.architecture != "LlamaForCausalLM") {
    return r.Error("architectures",
                   absl::StrCat("is [\"", c.architecture, "\"]; zerod supports LlamaForCausalLM"));
  }
  ASSIGN_OR_RETURN(std::string model_type, r.String("model_type", "llama"));
  if (model_type != "llama") {
    return r.Error("model_type", absl::StrCat("is \"", model_type, "\"; expected \"llama\""));
  }
  ASSIGN_OR_RETURN(c.vocab_size, r.Int("vocab_size", c.vocab_size, 1));
  ASSIGN_OR_RETURN(c.hidden_size, r.Int("hidden_size", c.hidden_size, 1));
  ASSIGN_OR_RETURN(c.intermediate_size, r.Int("intermediate_size", c.intermediate_size, 1));
  ASSIGN_OR_RETURN(c.num_hidden_layers, r.Int("num_hidden_layers", c.num_hidden_layers, 1));
  ASSIGN_OR_RETURN(c.num_attention_heads, r.Int("num_attention_heads", c.num_attention_heads, 1));
  ASSIGN_OR_RETURN(c.num_key_value_heads,
                   r.Int("num_key_value_heads", c.num_attention_heads, 1, c.num_attention_heads));
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return r.Error("num_key_value_heads",
                   absl::StrCat(c.num_key_value_heads, " does not divide num_attention_heads ",
                                c.num_attention_heads));
  }
  const bool head_dim_given = json.contains("head_dim") && !json["head_dim"].is_null();
  if (!head_dim_given && c.hidden_size % c.num_attention_heads != 0) {
    return r.Error("hidden_size",
                   absl::StrCat(c.hidden_size, " is not divisible by num_attention_heads ",
                                c.num_attention_heads, "; set head_dim"));
  }
  ASSIGN_OR_RETURN(c.head_dim, r.Int("head_dim", c.hidden_size / c.num_attention_heads, 2));
  if (c.head_dim % 2 != 0)
    return r.Error("head_dim", absl::StrCat(c.head_dim, " must be even (RoPE)"));
  ASSIGN_OR_RETURN(c.max_position_embeddings,
                   r.Int("max_position_embeddings", c.max_position_embeddings, 1));
  ASSIGN_OR_RETURN(c.rms_norm_eps, r.Number("rms_norm_eps", c.rms_norm_eps, 0.0));
  ASSIGN_OR_RETURN(c.rope_theta, r.Number("rope_theta", c.rope_theta, 1e-9));
  ASSIGN_OR_RETURN(c.initializer_range, r.Number("initializer_range", c.initializer_range, 0.0));
  ASSIGN_OR_RETURN(c.attention_bias, r.Bool("attention_bias", false));
  ASSIGN_OR_RETURN(c.mlp_bias, r.Bool("mlp_bias", false));

  // Fields that change the math and are not implemented yet: refused, never ignored.
  ASSIGN_OR_RETURN(std::string act, r.String("hidden_act", "silu"));
  if (act != "silu")
    return r.Error("hidden_act", absl::StrCat("is \"", act, "\"; Llama uses \"silu\""));
  ASSIGN_OR_RETURN(double attn_dropout, r.Number("attention_dropout", 0.0, 0.0, 1.0));
  if (attn_dropout != 0.0)
    return r.Error("attention_dropout", "must be 0: zerod trains without dropout");
  ASSIGN_OR_RETURN(bool tied, r.Bool("tie_word_embeddings", false));
  if (tied) return r.Error("tie_word_embeddings", "is true; tied embeddings are not supported yet");
  if (json.contains("rope_scaling") && !json["rope_scaling"].is_null()) {
    return r.Error("rope_scaling",
                   "is set; RoPE scaling is not supported yet: remove it or set null");
  }
  ASSIGN_OR_RETURN(int64_t pretraining_tp, r.Int("pretraining_tp", 1));
  if (pretraining_tp != 1) return r.Error("pretraining_tp", "must be 1");
  return c;
}

absl::StatusOr<LlamaConfig> LoadLlamaConfig(const std::string& model_dir) {
  if (!IsDirectory(model_dir)) {
    return absl::NotFoundError(absl::StrCat(
        "model directory ", model_dir, " does not exist; pass --model DIR holding config.json"));
  }
  const std::string path = JoinPath(model_dir, "config.json");
  std::ifstream in(path);
  if (!in)
    return absl::NotFoundError(
        absl::StrCat(path, " cannot be read; a model directory needs config.json"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseLlamaConfig(buffer.str(), path);
}

}  // namespace zerod::models
