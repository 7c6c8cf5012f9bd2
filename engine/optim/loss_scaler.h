// fp16 loss scaling with DeepSpeed's DynamicLossScaler rules: the loss is multiplied by
// `scale()` before backward; a step whose gradients hold inf/NaN is skipped and the scale
// backs off (after `hysteresis` overflows in a row), and after `window` clean steps it
// grows by `factor`. A static scale (ds_config "loss_scale" > 0) never changes.
// Not thread-safe; owned by the training loop.
#pragma once

#include <cstdint>

namespace zerod::optim {

struct LossScalerConfig {
  bool dynamic = true;
  double static_scale = 1.0;     // used when !dynamic
  int initial_scale_power = 16;  // dynamic: starts at 2^power
  int64_t window = 1000;         // "loss_scale_window"
  int hysteresis = 2;            // overflows tolerated before backing off
  bool consecutive_hysteresis = false;
  double min_scale = 1.0;  // "min_loss_scale"
  double factor = 2.0;
};

class LossScaler {
 public:
  explicit LossScaler(const LossScalerConfig& config);

  double scale() const { return scale_; }
  // Records the outcome of one step (overflow: some gradient was not finite).
  void Update(bool overflow);
  // True when the last overflow happened while already at min_scale: training can no
  // longer make progress and the caller should fail the job.
  bool stuck_at_min() const { return stuck_at_min_; }

  // The mutable state, for checkpoints.
  struct State {
    double scale = 1.0;
    int hysteresis_left = 0;
    int64_t iteration = 0;
    int64_t last_overflow_iteration = -1;
  };
  State state() const { return {scale_, hysteresis_left_, iteration_, last_overflow_iteration_}; }
  void Restore(const State& s) {
    scale_ = s.scale;
    hysteresis_left_ = s.hysteresis_left;
    iteration_ = s.iteration;
    last_overflow_iteration_ = s.last_overflow_iteration;
  }

 private:
  // Constant after construction.
  LossScalerConfig config_;
  // Mutable state.
  double scale_;
  int hysteresis_left_;
  int64_t iteration_ = 0;
  int64_t last_overflow_iteration_ = -1;
  bool stuck_at_min_ = false;
};

}  // namespace zerod::optim
