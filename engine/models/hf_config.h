// A Hugging Face config.json, validated, for the architectures zerod implements:
//   the decoder families of family.h (Llama, Mistral, Qwen2, Qwen3, OLMo 2, Phi-3, Gemma 2
//   and 3), each a DecoderConfig;  GPT2LMHeadModel, a Gpt2Config.
// Every key is honoured, known to be harmless (token ids, torch_dtype, use_cache, ...), or
// refused naming the key and its value: nothing that changes the math is dropped. Not
// here: anything about shards or tensors. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "engine/models/decoder_config.h"

namespace zerod::models {

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
  std::variant<DecoderConfig, Gpt2Config> arch;

  const DecoderConfig* decoder() const { return std::get_if<DecoderConfig>(&arch); }
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
  // InvalidArgument naming the field (max_position_embeddings, n_positions) otherwise.
  absl::Status CheckSequenceLength(int64_t seq_len) const;
};

// Parses config.json text; `source` names the file in errors (InvalidArgument, naming
// the field: an unsupported architectures entry (listing the supported ones), rope type,
// activation, an unknown key, quantization_config, ...).
absl::StatusOr<ModelConfig> ParseModelConfig(const std::string& text, const std::string& source);
// Reads DIR/config.json. NotFound when DIR or the file is missing.
absl::StatusOr<ModelConfig> LoadModelConfig(const std::string& model_dir);

// The same for callers that only take the decoder families (tests, tools).
absl::StatusOr<DecoderConfig> ParseDecoderConfig(const std::string& text,
                                                 const std::string& source);
absl::StatusOr<DecoderConfig> LoadDecoderConfig(const std::string& model_dir);

}  // namespace zerod::models
