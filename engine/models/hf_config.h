// A Hugging Face config.json for the Llama family, validated. Fields that change the
// model's math and that zerod does not implement are refused by name; fields that do
// not change training (token ids, torch_dtype, use_cache, ...) are ignored. Torch-free.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace zerod::models {

struct LlamaConfig {
  std::string architecture = "LlamaForCausalLM";
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
  double initializer_range = 0.02;  // std of the normal init, as transformers does
  bool attention_bias = false;      // q/k/v/o projections carry biases
  bool mlp_bias = false;

  // Parameters in the whole model.
  int64_t NumParameters() const;
};

// Parses config.json text; `source` names the file in errors (InvalidArgument).
absl::StatusOr<LlamaConfig> ParseLlamaConfig(const std::string& text, const std::string& source);

// Reads DIR/config.json. NotFound when DIR or the file is missing.
absl::StatusOr<LlamaConfig> LoadLlamaConfig(const std::string& model_dir);

}  // namespace zerod::models
