#include "engine/optim/loss_scaler.h"

#include <algorithm>
#include <cmath>

namespace zerod::optim {

LossScaler::LossScaler(const LossScalerConfig& config)
    : config_(config),
      scale_(config.dynamic ? std::ldexp(1.0, config.initial_scale_power) : config.static_scale),
      hysteresis_left_(config.hysteresis) {}

void LossScaler::Update(bool overflow) {
  if (!config_.dynamic) {
    ++iteration_;
    return;
  }
  if (overflow) {
    stuck_at_min_ = false;
    if (config_.hysteresis <= 1 || hysteresis_left_ <= 1) {
      if (scale_ <= config_.min_scale) stuck_at_min_ = true;
      scale_ = std::max(scale_ / config_.factor, config_.min_scale);
    } else {
      --hysteresis_left_;
    }
    last_overflow_iteration_ = iteration_;
  } else {
    stuck_at_min_ = false;
    if (config_.consecutive_hysteresis) hysteresis_left_ = config_.hysteresis;
    if ((iteration_ - last_overflow_iteration_) % config_.window == 0) {
      if (!config_.consecutive_hysteresis) hysteresis_left_ = config_.hysteresis;
      scale_ *= config_.factor;
    }
  }
  ++iteration_;
}

}  // namespace zerod::optim
