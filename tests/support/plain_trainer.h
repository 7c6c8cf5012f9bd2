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
std::vector<double> PlainTrainingLosses(const JobSpec& spec, const std::string& device = "cpu");

}  // namespace zerod::testing
