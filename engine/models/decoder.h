// The one decoder of the dense families (decoder_config.h says what a block computes and
// family.h which family sets which switch) as zerod units:
//   unit 0        model.embed_tokens                     ids (B, T) -> h (B, T, C)
//   units 1..L    model.layers.N: one block              h (B, T, C) -> h (B, T, C)
//   (a sparse layer whose experts exceed one unit's share (decoder_config.h, ExpertUnits):
//    units model.layers.N.experts.A-B after the layer's, one per further group of its
//    experts, each (B, T, 2C) -> (B, T, 2C), the last -> (B, T, C))
//   unit L+1      model.norm and lm_head                 h (B, T, C) -> logits (B, T, V)
//                 (or, for the loss, per-token losses without the logits: lm_loss.h)
// Parameter names and shapes are the checkpoint's own (the family's BlockNorms name the
// norms; fused qkv_proj / gate_up_proj stay fused), so weights load and export as they
// are. A block's parameters are declared in one order for every family (norm before
// attention, attention weights, biases, q/k norms, norms around the MLP, MLP weights and
// biases), which for Llama is the order zerod has always had, so earlier checkpoints of
// zerod's sharded state still line up. Attention kernels: attention.h; RoPE: rope.h. A
// tied LM head borrows the embedding (unit.h, Note [tied weights]), so lm_head.weight is
// then neither loaded nor exported.
#pragma once

#include <memory>
#include <vector>

#include "engine/models/decoder_config.h"
#include "engine/models/unit.h"

namespace zerod::models {

// Builds the units of a decoder model; parameters have no storage yet.
std::vector<std::unique_ptr<Unit>> BuildDecoderUnits(const DecoderConfig& config);

}  // namespace zerod::models
