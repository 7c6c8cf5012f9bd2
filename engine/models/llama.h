// The Llama family (transformers' LlamaForCausalLM, MistralForCausalLM and
// Qwen2ForCausalLM: the same block, differing in biases and defaults) as zerod units:
//   unit 0        embed_tokens                           ids (B, T) -> h (B, T, C)
//   units 1..L    decoder blocks: RMSNorm, attention with RoPE and grouped-query heads,
//                 RMSNorm, SwiGLU MLP, two residual adds     h (B, T, C) -> h (B, T, C)
//   unit L+1      final RMSNorm and lm_head              h (B, T, C) -> logits (B, T, V)
// Parameter names and shapes are transformers' own, so weights load and export as is.
// RoPE scaling (linear, llama3) lives in rope.h; a tied LM head borrows the embedding
// (unit.h, Note [tied weights]), so lm_head.weight is then neither loaded nor exported.
#pragma once

#include <memory>
#include <vector>

#include "engine/models/hf_config.h"
#include "engine/models/unit.h"

namespace zerod::models {

// Builds the units of a Llama model; parameters have no storage yet.
std::vector<std::unique_ptr<Unit>> BuildLlamaUnits(const LlamaConfig& config);

// Next-token cross-entropy, mean over all positions: logits (B, T, V) against
// targets (B, T) int64. Computed in float32 whatever the logits' dtype.
torch::Tensor CausalLmLoss(const torch::Tensor& logits, const torch::Tensor& targets);

}  // namespace zerod::models
