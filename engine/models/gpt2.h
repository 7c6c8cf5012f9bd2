// GPT-2 (transformers' GPT2LMHeadModel) as zerod units:
//   unit 0        wte + wpe                              ids (B, T) -> h (B, T, C)
//   units 1..L    blocks: LayerNorm, causal attention (c_attn, c_proj), LayerNorm,
//                 GELU MLP (c_fc, c_proj), two residual adds   h (B, T, C) -> h (B, T, C)
//   unit L+1      ln_f and the LM head                   h (B, T, C) -> logits (B, T, V)
// Parameter names are transformers' own. Its Conv1D weights are stored (in, out), the
// transpose of nn.Linear's: zerod keeps that layout and computes x @ W + b, so weights
// load and export byte for byte, with no transposition either way. The LM head borrows
// wte (unit.h, Note [tied weights]) unless tie_word_embeddings is false.
#pragma once

#include <memory>
#include <vector>

#include "engine/models/hf_config.h"
#include "engine/models/unit.h"

namespace zerod::models {

// Builds the units of a GPT-2 model; parameters have no storage yet.
std::vector<std::unique_ptr<Unit>> BuildGpt2Units(const Gpt2Config& config);

}  // namespace zerod::models
