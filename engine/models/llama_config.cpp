// config.json fields of the Llama family (LlamaForCausalLM, MistralForCausalLM,
// Qwen2ForCausalLM): what each variant fixes (Qwen2's q/k/v biases, Mistral's and
// Qwen2's sliding window) and what the config chooses (GQA, head_dim, RoPE scaling,
// biases, tied embeddings).
#include "absl/strings/str_cat.h"
#include "engine/models/hf_config_parsers.h"
#include "engine/util/status_macros.h"

namespace zerod::models::internal {
namespace {

using config::JsonReader;

bool Present(const nlohmann::json& json, const char* key) {
  return json.contains(key) && !json[key].is_null();
}

// RoPE: transformers 5 writes rope_parameters {rope_type, rope_theta, factor, ...};
// older configs have rope_theta at the top and rope_scaling {type or rope_type, ...}.
absl::Status ParseRope(const nlohmann::json& json, JsonReader& r, LlamaConfig& c) {
  ASSIGN_OR_RETURN(c.rope_theta, r.Number("rope_theta", c.rope_theta, 1e-9));
  const char* key = Present(json, "rope_parameters") ? "rope_parameters" : "rope_scaling";
  if (!Present(json, key)) return absl::OkStatus();
  if (!json[key].is_object()) return r.Error(key, "must be an object or null");
  ASSIGN_OR_RETURN(JsonReader s, r.Object(key));
  ASSIGN_OR_RETURN(c.rope_theta, s.Number("rope_theta", c.rope_theta, 1e-9));
  ASSIGN_OR_RETURN(std::string legacy_type, s.String("type", "default"));
  ASSIGN_OR_RETURN(std::string type, s.String("rope_type", legacy_type));
  ASSIGN_OR_RETURN(double partial, s.Number("partial_rotary_factor", 1.0));
  if (partial != 1.0)
    return s.Error("partial_rotary_factor", "must be 1: zerod rotates all of head_dim");
  RopeScaling& rs = c.rope_scaling;
  if (type == "default") return absl::OkStatus();
  if (type == "linear") {
    rs.type = RopeType::kLinear;
    ASSIGN_OR_RETURN(rs.factor, s.Number("factor", 1.0, 1e-9));
    return absl::OkStatus();
  }
  if (type == "llama3") {
    rs.type = RopeType::kLlama3;
    ASSIGN_OR_RETURN(rs.factor, s.Number("factor", 8.0, 1e-9));
    ASSIGN_OR_RETURN(rs.low_freq_factor, s.Number("low_freq_factor", 1.0, 1e-9));
    ASSIGN_OR_RETURN(rs.high_freq_factor, s.Number("high_freq_factor", 4.0, 1e-9));
    if (rs.high_freq_factor <= rs.low_freq_factor) {
      return s.Error(
          "high_freq_factor",
          absl::StrCat(rs.high_freq_factor, " must exceed low_freq_factor ", rs.low_freq_factor));
    }
    ASSIGN_OR_RETURN(rs.original_max_position_embeddings,
                     s.Int("original_max_position_embeddings", c.max_position_embeddings, 1));
    return absl::OkStatus();
  }
  return s.Error(s.Has("rope_type") ? "rope_type" : "type",
                 absl::StrCat("is \"", type,
                              "\"; zerod implements \"default\", \"linear\" and "
                              "\"llama3\" RoPE"));
}

absl::Status ParseShapes(const nlohmann::json& json, JsonReader& r, LlamaConfig& c) {
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
  if (!Present(json, "head_dim") && c.hidden_size % c.num_attention_heads != 0) {
    return r.Error("hidden_size",
                   absl::StrCat(c.hidden_size, " is not divisible by num_attention_heads ",
                                c.num_attention_heads, "; set head_dim"));
  }
  ASSIGN_OR_RETURN(c.head_dim, r.Int("head_dim", c.hidden_size / c.num_attention_heads, 2));
  if (c.head_dim % 2 != 0)
    return r.Error("head_dim", absl::StrCat(c.head_dim, " must be even (RoPE)"));
  ASSIGN_OR_RETURN(c.max_position_embeddings,
                   r.Int("max_position_embeddings", c.max_position_embeddings, 1));
  return absl::OkStatus();
}

// Biases and the sliding window, which each variant fixes differently.
absl::Status ParseVariant(const nlohmann::json& json, JsonReader& r,
                          const std::string& architecture, LlamaConfig& c) {
  if (architecture == "LlamaForCausalLM") {
    ASSIGN_OR_RETURN(bool attention_bias, r.Bool("attention_bias", false));
    c.qkv_bias = c.o_bias = attention_bias;
    ASSIGN_OR_RETURN(c.mlp_bias, r.Bool("mlp_bias", false));
    ASSIGN_OR_RETURN(int64_t pretraining_tp, r.Int("pretraining_tp", 1));
    if (pretraining_tp != 1) return r.Error("pretraining_tp", "must be 1");
    return absl::OkStatus();
  }
  if (architecture == "MistralForCausalLM") {  // no biases; the window always applies
    ASSIGN_OR_RETURN(c.sliding_window, r.Int("sliding_window", 0, 1));
    return absl::OkStatus();
  }
  // Qwen2: q/k/v biases, none on o_proj or the MLP. With use_sliding_window, only layers
  // from max_window_layers on use the window (transformers' layer_types, which newer
  // configs also spell out); when no layer does, there is no window.
  c.qkv_bias = true;
  ASSIGN_OR_RETURN(bool use_window, r.Bool("use_sliding_window", false));
  ASSIGN_OR_RETURN(int64_t window, r.Int("sliding_window", 0, 1));
  ASSIGN_OR_RETURN(int64_t max_window_layers, r.Int("max_window_layers", 28, 0));
  bool windowed = use_window && max_window_layers < c.num_hidden_layers;
  if (auto types = json.find("layer_types"); types != json.end() && types->is_array()) {
    windowed = false;
    for (const auto& t : *types) windowed = windowed || t == "sliding_attention";
  }
  if (windowed) c.sliding_window = window;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LlamaConfig> ParseLlamaFamily(const nlohmann::json& json, JsonReader& r,
                                             const std::string& architecture) {
  LlamaConfig c;
  c.architecture = architecture;
  RETURN_IF_ERROR(ParseShapes(json, r, c));
  ASSIGN_OR_RETURN(c.rms_norm_eps, r.Number("rms_norm_eps", c.rms_norm_eps, 0.0));
  ASSIGN_OR_RETURN(c.initializer_range, r.Number("initializer_range", c.initializer_range, 0.0));
  ASSIGN_OR_RETURN(c.tie_word_embeddings, r.Bool("tie_word_embeddings", false));
  RETURN_IF_ERROR(ParseRope(json, r, c));
  RETURN_IF_ERROR(ParseVariant(json, r, architecture, c));

  // Fields that change the math and are not implemented: refused, never ignored.
  ASSIGN_OR_RETURN(std::string act, r.String("hidden_act", "silu"));
  if (act != "silu")
    return r.Error("hidden_act", absl::StrCat("is \"", act, "\"; zerod implements \"silu\""));
  ASSIGN_OR_RETURN(c.ignored_dropout, r.Number("attention_dropout", 0.0, 0.0, 1.0));
  return c;
}

}  // namespace zerod::models::internal
