// Rotary position embeddings for the decoder families: the inverse frequencies of every
// RoPE type transformers implements for them (modeling_rope_utils.py: default, linear,
// llama3, dynamic, yarn, longrope; partial rotary), the cos/sin tables, and applying them.
// Computed in float32 with transformers' operation order, so the tables match its rotary
// embeddings to the last bit on the same device.
#pragma once

#include <torch/torch.h>

#include <utility>

#include "engine/models/decoder_config.h"

namespace zerod::models {

// What a RoPE needs beside its own settings: the model's shapes.
struct RopeShape {
  int64_t head_dim = 128;
  int64_t max_position_embeddings = 2048;  // dynamic; longrope's default factor
};

// Dimensions of head_dim that rotate: int(head_dim * partial_rotary_factor).
int64_t RotaryDims(const RopeConfig& rope, const RopeShape& shape);

// (rotary_dims / 2) float32 on `device`, for a sequence of `T` tokens (dynamic and
// longrope depend on it, as transformers' dynamic_rope_update does at that length).
torch::Tensor RopeInverseFrequencies(const RopeConfig& rope, const RopeShape& shape, int64_t T,
                                     torch::Device device);
// The factor transformers multiplies cos and sin by (yarn, longrope; 1 otherwise).
double RopeAttentionScaling(const RopeConfig& rope, const RopeShape& shape);

// cos and sin of position * inv_freq for positions 0..T-1, duplicated over both halves
// of the rotary dimensions, times the attention scaling: (T, rotary_dims) each, in `dtype`.
std::pair<torch::Tensor, torch::Tensor> RopeTables(const RopeConfig& rope, const RopeShape& shape,
                                                   int64_t T, torch::ScalarType dtype,
                                                   torch::Device device);

// x (..., T, head_dim) rotated by the tables (T, rotary_dims): the first rotary_dims of
// the last dimension as x * cos + rotate_half(x) * sin, the rest passed through.
torch::Tensor ApplyRope(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

// The rows of a table (T, rotary_dims) for each token's position (B, T) int64 (a packed
// row's positions restart at each document): (B, 1, T, rotary_dims), to rotate
// (B, heads, T, head_dim). Positions must lie in [0, T).
torch::Tensor PositionRows(const torch::Tensor& table, const torch::Tensor& positions);

// Rotates pairs (i, i + d/2) of the last dimension: transformers' rotate_half.
torch::Tensor RotateHalf(const torch::Tensor& x);

}  // namespace zerod::models
