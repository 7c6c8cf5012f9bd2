// What an optimizer step does with this step's gradients, decided once for all ranks
// before any update is applied, so clipping and the fp16 overflow skip keep their exact
// meaning whether the update then runs serially or overlapped with the next forward
// (zero/shard_optimizer.h, Note [overlapped update]). Torch-free.
#pragma once

#include "absl/status/statusor.h"
#include "engine/comm/communicator.h"

namespace zerod::optim {

struct StepRules {
  double grad_scale = 1.0;      // multiplies every gradient first (1 / fp16 loss scale)
  double max_norm = 0.0;        // > 0: clip to this global L2 norm (gradient_clipping)
  bool check_overflow = false;  // fp16: skip the step when any gradient is not finite
};

// Whether `rules` decide the step whatever its gradients are (no clipping, no overflow
// check): the factor is then grad_scale and nothing is skipped (Note [early update] in
// zero/host_updater.h).
inline bool DecidedBeforeGradients(const StepRules& rules) {
  return rules.max_norm <= 0.0 && !rules.check_overflow;
}

struct StepDecision {
  bool skipped = false;    // fp16 overflow on some rank: no update anywhere
  double grad_norm = 0.0;  // global L2 norm of the unscaled gradient, before clipping
  double factor = 1.0;     // what each gradient is multiplied by: grad_scale x clip coefficient
};

// From this rank's sum of squares of its (scaled) gradient shards: one all-reduce of the
// overflow flag (when checked) and one of the sum. Clipping as torch.nn.utils.
// clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1. Every rank
// calls it and gets the same decision.
absl::StatusOr<StepDecision> DecideStep(double local_sum_of_squares, const StepRules& rules,
                                        comm::Communicator& comm);

}  // namespace zerod::optim
