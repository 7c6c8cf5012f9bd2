// Rotary position embeddings for the Llama family: the inverse frequencies, with the
// scalings transformers names "linear" (positions divided by factor) and "llama3"
// (Llama 3.1: low frequencies divided by factor, a smooth blend in between), and the
// cos/sin tables. Computed in float32 with transformers' operation order, so the
// tables match its LlamaRotaryEmbedding to the last bit on the same device.
#pragma once

#include <torch/torch.h>

#include <utility>

#include "engine/models/hf_config.h"

namespace zerod::models {

// (head_dim / 2) float32 on `device`.
torch::Tensor RopeInverseFrequencies(const LlamaConfig& c, torch::Device device);

// cos and sin of position * inv_freq for positions 0..T-1, duplicated over both halves
// of head_dim: (T, head_dim) each, in `dtype`.
std::pair<torch::Tensor, torch::Tensor> RopeTables(const LlamaConfig& c, int64_t T,
                                                   torch::ScalarType dtype, torch::Device device);

// Rotates pairs (i, i + d/2) of the last dimension: transformers' rotate_half.
torch::Tensor RotateHalf(const torch::Tensor& x);

}  // namespace zerod::models
