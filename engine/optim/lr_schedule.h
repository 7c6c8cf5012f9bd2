// Learning-rate schedules with DeepSpeed's semantics (deepspeed.runtime.lr_schedules),
// so a ds_config's "scheduler" block gives the same rates here. `iteration` counts the
// optimizer steps taken before this one: the first step uses iteration 0. Steps that
// the fp16 loss scaler skips do not advance it (as in DeepSpeed).
#pragma once

#include <cstdint>
#include <string>

namespace zerod::optim {

struct LrScheduleConfig {
  // kLinear: Hugging Face Trainer's default (get_linear_schedule_with_warmup): `lr` * i /
  // warmup_num_steps during the warm-up, then down in a line to 0 at total_num_steps. What a
  // fine-tuning job gets when its config has no scheduler (train/job.cpp).
  enum class Type { kConstant, kWarmupLR, kWarmupDecayLR, kWarmupCosineLR, kLinear };
  Type type = Type::kConstant;
  double lr = 1e-3;             // kConstant: the rate
  double warmup_min_lr = 0.0;   // rate at iteration 0
  double warmup_max_lr = 1e-3;  // rate at the end of warm-up
  int64_t warmup_num_steps = 1000;
  bool warmup_log = true;       // "warmup_type": "log" (default) or "linear"
  int64_t total_num_steps = 0;  // kWarmupDecayLR: rate reaches 0 here; kWarmupCosineLR: the
                                // cosine's end
  // kWarmupCosineLR works in ratios of `lr` (the optimizer's rate): warm-up from
  // warmup_min_ratio to 1, then a half cosine down to cos_min_ratio.
  double warmup_min_ratio = 0.0;
  double cos_min_ratio = 0.0001;
};

double LearningRate(const LrScheduleConfig& config, int64_t iteration);

}  // namespace zerod::optim
