#include "engine/optim/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace zerod::optim {
namespace {

// Fraction of the warm-up done, in [0, 1]. DeepSpeed clamps warmup_num_steps to >= 2
// so that log(warmup_num_steps) is never 0.
double WarmupGamma(const LrScheduleConfig& c, int64_t iteration) {
  const int64_t warmup = std::max<int64_t>(2, c.warmup_num_steps);
  if (iteration >= warmup) return 1.0;
  if (c.warmup_log)
    return std::log(static_cast<double>(iteration + 1)) / std::log(static_cast<double>(warmup));
  return static_cast<double>(iteration) / static_cast<double>(warmup);
}

}  // namespace

double LearningRate(const LrScheduleConfig& c, int64_t iteration) {
  switch (c.type) {
    case LrScheduleConfig::Type::kConstant:
      return c.lr;
    case LrScheduleConfig::Type::kLinear: {
      const int64_t warmup = std::max<int64_t>(0, c.warmup_num_steps);
      if (iteration < warmup) {
        return c.lr * static_cast<double>(iteration) / static_cast<double>(warmup);
      }
      const double span = static_cast<double>(std::max<int64_t>(1, c.total_num_steps - warmup));
      return c.lr * std::max(0.0, static_cast<double>(c.total_num_steps - iteration) / span);
    }
    case LrScheduleConfig::Type::kWarmupLR:
      return c.warmup_min_lr + (c.warmup_max_lr - c.warmup_min_lr) * WarmupGamma(c, iteration);
    case LrScheduleConfig::Type::kWarmupDecayLR: {
      const int64_t warmup = std::max<int64_t>(2, c.warmup_num_steps);
      if (iteration < warmup) {
        return c.warmup_min_lr + (c.warmup_max_lr - c.warmup_min_lr) * WarmupGamma(c, iteration);
      }
      const double span = static_cast<double>(std::max<int64_t>(1, c.total_num_steps - warmup));
      const double gamma = std::max(0.0, static_cast<double>(c.total_num_steps - iteration) / span);
      return c.warmup_max_lr * gamma;
    }
    case LrScheduleConfig::Type::kWarmupCosineLR: {
      const int64_t warmup = std::max<int64_t>(2, c.warmup_num_steps);
      if (iteration < warmup) {
        return c.lr * (c.warmup_min_ratio + (1.0 - c.warmup_min_ratio) * WarmupGamma(c, iteration));
      }
      // DeepSpeed counts the cosine from 1 at the first step after warm-up.
      const double done = static_cast<double>(iteration - warmup + 1);
      const double span = static_cast<double>(std::max<int64_t>(1, c.total_num_steps - warmup));
      const double cosine = (1.0 + std::cos(M_PI * done / span)) / 2.0;
      return c.lr * std::max(0.0, c.cos_min_ratio + (1.0 - c.cos_min_ratio) * cosine);
    }
  }
  return c.lr;
}

}  // namespace zerod::optim
