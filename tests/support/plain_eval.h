// The reference for zerod --eval: the same Llama units, unsharded, float32, with the
// seeded init, run by plain LibTorch over the first windows of the data file.
#pragma once

#include <cstdint>

#include "engine/api.h"

namespace zerod::testing {

// Mean next-token loss over windows [0, num_windows) of spec.seq_len + 1 tokens, in
// forwards of `forward_windows` windows (the last may be shorter). torch's
// cross_entropy per token, summed in float64. Reads the same files Evaluate would;
// spec.model_dir must hold no weight files (the seeded init).
double PlainEvalLoss(const EvalSpec& spec, int64_t num_windows, int64_t forward_windows);

}  // namespace zerod::testing
