// Whether one tensor's elements start where another's end in the same storage, both
// contiguous: runs of such tensors (the experts of a unit, laid out one after another by
// the engine, and their gradients) are one tensor without a copy (models/moe.cpp stacks
// expert weights as a view; zero/param_group.cpp copies such gradients as one run).
#pragma once

#include <torch/torch.h>

namespace zerod::models {

inline bool FollowsInStorage(const torch::Tensor& next, const torch::Tensor& prev) {
  return next.defined() && prev.defined() && next.is_contiguous() && prev.is_contiguous() &&
         next.scalar_type() == prev.scalar_type() && next.device() == prev.device() &&
         next.storage().is_alias_of(prev.storage()) &&
         next.storage_offset() == prev.storage_offset() + prev.numel();
}

}  // namespace zerod::models
