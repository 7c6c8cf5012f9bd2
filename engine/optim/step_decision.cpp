#include "engine/optim/step_decision.h"

#include <cmath>
#include <cstdint>

#include "engine/util/status_macros.h"

namespace zerod::optim {

absl::StatusOr<StepDecision> DecideStep(double sum_sq, const StepRules& rules,
                                        comm::Communicator& comm) {
  StepDecision d;
  // A non-finite element makes the sum of squares non-finite too.
  if (rules.check_overflow) {
    int64_t bad = !std::isfinite(sum_sq);
    RETURN_IF_ERROR(comm.AllReduce(&bad, 1, DType::kInt64, comm::ReduceOp::kMax));
    if (bad) {
      d.skipped = true;
      return d;
    }
  }
  RETURN_IF_ERROR(comm.AllReduce(&sum_sq, 1, DType::kFloat64, comm::ReduceOp::kSum));
  d.grad_norm = std::sqrt(sum_sq) * rules.grad_scale;
  d.factor = rules.grad_scale;
  if (rules.max_norm > 0.0) {
    const double coef = rules.max_norm / (d.grad_norm + 1e-6);
    if (coef < 1.0) d.factor *= coef;
  }
  return d;
}

}  // namespace zerod::optim
