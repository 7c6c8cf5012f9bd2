// Each unit runs as one custom autograd function (DESIGN.md). Its forward runs the unit
// on gathered parameters and lets the engine release them; its backward has the engine
// gather them again, computes the unit's gradients (recomputing the unit first when
// activation checkpointing is on), and hands them to the engine's reduce-scatter. Neither
// can return a Status: the engine's hooks throw one, and the caller of the pass takes it
// back (Note [exceptions], status_exception.h).
#pragma once

#include <torch/torch.h>

#include "engine/models/moe.h"
#include "engine/models/sequence_layout.h"

namespace zerod::zero {

class ZeroEngine;

// Runs unit `index` of `engine` on `input`. `anchor` is a zero-size tensor that requires
// grad, so the output always has a backward (the embedding's input is integer ids). With
// `targets` (B, T) int64 (not empty), the unit ends in the loss: Unit::ForwardLoss's
// per-token losses (B, T) float32. `layout`: the rows' documents, handed to the unit's
// forward and saved with the micro-batch for its recomputation under activation
// checkpointing (models/unit.h, Note [layout of a pass]).
//
// A mixture-of-experts block also hands back its router statistics (models/moe.h): their
// prob_sum is the function's second output, so a loss built from it (the router's
// load-balancing loss) sends its gradient back into the unit's own backward, which then
// differentiates the unit's output and its prob_sum together.
struct UnitOutput {
  torch::Tensor out;
  models::RouterStats router;  // undefined unless the unit routes
};
UnitOutput RunUnit(ZeroEngine& engine, int index, const torch::Tensor& input,
                   const torch::Tensor& anchor, const torch::Tensor& targets,
                   const models::SequenceLayout& layout = {});

}  // namespace zerod::zero
