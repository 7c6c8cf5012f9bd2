// The reference every ZeRO-3 test compares against: the same units (any architecture;
// a tied weight is one leaf, its gradient accumulated by autograd) trained by a
// plain LibTorch loop, no sharding, torch::optim::AdamW, torch's clip_grad_norm_, one
// forward over the whole global batch per step.
#pragma once

#include <string>
#include <vector>

#include "engine/api.h"

namespace zerod::testing {

// Losses of `spec.steps` steps (fp32) on `device`. Reads the same files a Job would.
// `delay_after` >= 0: the steps after that many apply their update one step late, to
// every parameter (ZeRO-Offload's delayed parameter update: each step's forward and
// backward run on the weights before the last update; Note [delayed update]).
std::vector<double> PlainTrainingLosses(const JobSpec& spec, const std::string& device = "cpu",
                                        int64_t delay_after = -1);

}  // namespace zerod::testing
