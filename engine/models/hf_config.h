// A Hugging Face config.json, validated, for the architectures zerod implements:
//   LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM   (the Llama family: LlamaConfig)
//   GPT2LMHeadModel                                           (Gpt2Config)
// Fields that change the model's math and that zerod does not implement are refused by
// name; fields that do not change training (token ids, torch_dtype, use_cache, ...) are
// ignored. Not here: anything about shards or tensors. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "absl/status/statusor.h"

namespace zerod::models {

// How RoPE's inverse frequencies are derived (rope_scaling / rope_parameters.rope_type).
enum class RopeType { kDefault, kLinear, kLlama3 };

struct RopeScaling {
  RopeType type = RopeType::kDefault;
  double factor = 1.0;            // linear: positions / factor; llama3: low-frequency divisor
  double low_freq_factor = 1.0;   // llama3 only
  double high_freq_factor = 4.0;  // llama3 only
  int64_t original_max_position_embeddings = 8192;  // llama3 only
};

struct LlamaConfig {
  std::string architecture = "LlamaForCausalLM";  // or Mistral..., Qwen2...
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;  // < num_attention_heads: grouped-query attention
  int64_t head_dim = 128;            // hidden_size / num_attention_heads unless given
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  double initializer_range = 0.02;  // std of the normal init, as transformers does
  bool qkv_bias = false;            // q/k/v projections carry biases (Qwen2; attention_bias)
  bool o_bias = false;              // o_proj carries a bias (attention_bias)
  bool mlp_bias = false;
  bool tie_word_embeddings = false;  // lm_head reads embed_tokens.weight
  int64_t sliding_window = 0;        // attention window in tokens; 0 = none
  double ignored_dropout = 0.0;      // attention_dropout given; zerod trains without dropout

  // Parameters in the whole model (a tied weight counted once).
  int64_t NumParameters() const;
};

struct Gpt2Config {
  int64_t vocab_size = 50257;
  int64_t n_positions = 1024;  // rows of the learned position embedding wpe
  int64_t n_embd = 768;
  int64_t n_layer = 12;
  int64_t n_head = 12;
  int64_t n_inner = 3072;  // MLP width; 4 * n_embd when null
  double layer_norm_epsilon = 1e-5;
  double initializer_range = 0.02;
  bool gelu_exact = false;          // activation_function "gelu" (erf); else gelu_new (tanh)
  bool scale_attn_weights = true;   // scores / sqrt(head_dim); false: unscaled
  bool tie_word_embeddings = true;  // lm_head reads transformer.wte.weight
  double ignored_dropout = 0.0;     // largest *_pdrop given; zerod trains without dropout
};

// One parsed config.json, whichever architecture.
struct ModelConfig {
  std::variant<LlamaConfig, Gpt2Config> arch;

  const LlamaConfig* llama() const { return std::get_if<LlamaConfig>(&arch); }
  const Gpt2Config* gpt2() const { return std::get_if<Gpt2Config>(&arch); }
  const std::string& architecture() const;
  int64_t vocab_size() const;
  int64_t hidden_size() const;
  int64_t max_positions() const;  // longest sequence the model accepts
  double initializer_range() const;
  // A note for the user when config.json asks for dropout, which zerod does not apply
  // (the model and its weights are the same; only training regularisation differs);
  // empty otherwise.
  std::string DropoutNote() const;
  // OK when a sequence of `seq_len` tokens trains exactly as transformers would;
  // InvalidArgument naming the field (max_position_embeddings, sliding_window) otherwise.
  absl::Status CheckSequenceLength(int64_t seq_len) const;
};

// Parses config.json text; `source` names the file in errors (InvalidArgument, naming
// the field: an unsupported architectures entry, rope type, activation, ...).
absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& text, const std::string& source);
// Reads DIR/config.json. NotFound when DIR or the file is missing.
absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& model_dir);

// The same for callers that only take the Llama family (tests, the plain trainer).
absl::StatusOr<LlamaConfig> ParseLlamaConfig(const std::string& text, const std::string& source);
absl::StatusOr<LlamaConfig> LoadLlamaConfig(const std::string& model_dir);

}  // namespace zerod::models
