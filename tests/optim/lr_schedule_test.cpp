#include "engine/optim/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

namespace zerod::optim {
namespace {

using Type = LrScheduleConfig::Type;

TEST(LrScheduleTest, WarmupLogMatchesDeepSpeedFormula) {
  LrScheduleConfig c{.type = Type::kWarmupLR,
                     .warmup_min_lr = 0.0,
                     .warmup_max_lr = 1e-3,
                     .warmup_num_steps = 100,
                     .warmup_log = true};
  EXPECT_DOUBLE_EQ(LearningRate(c, 0), 0.0);  // log(1) = 0
  EXPECT_NEAR(LearningRate(c, 9), 1e-3 * std::log(10.0) / std::log(100.0), 1e-15);
  EXPECT_DOUBLE_EQ(LearningRate(c, 100), 1e-3);
  EXPECT_DOUBLE_EQ(LearningRate(c, 5000), 1e-3);
}

TEST(LrScheduleTest, LinearIsTransformersDefaultScheduleWithAndWithoutWarmup) {
  // get_linear_schedule_with_warmup: lr * i / warmup, then lr * (total - i) / (total - warmup).
  LrScheduleConfig c{
      .type = Type::kLinear, .lr = 5e-5, .warmup_num_steps = 0, .total_num_steps = 10};
  EXPECT_DOUBLE_EQ(LearningRate(c, 0), 5e-5);  // no warm-up: the full rate at the first step
  EXPECT_DOUBLE_EQ(LearningRate(c, 4), 5e-5 * 6 / 10);
  EXPECT_DOUBLE_EQ(LearningRate(c, 10), 0.0);
  c.warmup_num_steps = 4;
  EXPECT_DOUBLE_EQ(LearningRate(c, 0), 0.0);
  EXPECT_DOUBLE_EQ(LearningRate(c, 2), 5e-5 / 2);
  EXPECT_DOUBLE_EQ(LearningRate(c, 4), 5e-5);
  EXPECT_DOUBLE_EQ(LearningRate(c, 7), 5e-5 * 3 / 6);
}

TEST(LrScheduleTest, WarmupLinearRisesEvenly) {
  LrScheduleConfig c{.type = Type::kWarmupLR,
                     .warmup_min_lr = 1e-4,
                     .warmup_max_lr = 5e-4,
                     .warmup_num_steps = 4,
                     .warmup_log = false};
  EXPECT_DOUBLE_EQ(LearningRate(c, 0), 1e-4);
  EXPECT_DOUBLE_EQ(LearningRate(c, 2), 3e-4);
  EXPECT_DOUBLE_EQ(LearningRate(c, 4), 5e-4);
}

// DeepSpeed's WarmupCosineLR, in ratios of the optimizer's lr: linear warm-up from
// warmup_min_ratio, then (1 + cos(pi * (it - warmup + 1) / (total - warmup))) / 2 scaled
// into [cos_min_ratio, 1].
TEST(LrScheduleTest, WarmupCosineFollowsDeepSpeedsRatios) {
  LrScheduleConfig c{.type = Type::kWarmupCosineLR,
                     .lr = 2e-4,
                     .warmup_num_steps = 4,
                     .warmup_log = false,
                     .total_num_steps = 14,
                     .warmup_min_ratio = 0.1,
                     .cos_min_ratio = 0.01};
  EXPECT_DOUBLE_EQ(LearningRate(c, 0), 2e-4 * 0.1);
  EXPECT_DOUBLE_EQ(LearningRate(c, 2), 2e-4 * (0.1 + 0.9 * 0.5));
  // it = 4: the first cosine step, 1/10 of the way: (1 + cos(pi / 10)) / 2 = 0.975528...
  EXPECT_NEAR(LearningRate(c, 4), 2e-4 * (0.01 + 0.99 * 0.97552825814757682), 1e-15);
  EXPECT_NEAR(LearningRate(c, 8), 2e-4 * (0.01 + 0.99 * 0.5), 1e-15);  // halfway
  EXPECT_NEAR(LearningRate(c, 13), 2e-4 * 0.01, 1e-15);                // the end
  // Past total_num_steps DeepSpeed does not clamp: the cosine climbs again (17/10 of pi).
  EXPECT_NEAR(LearningRate(c, 20), 2e-4 * (0.01 + 0.99 * 0.79389262614623657), 1e-15);
}

TEST(LrScheduleTest, WarmupDecayFallsLinearlyToZeroAtTotalSteps) {
  LrScheduleConfig c{.type = Type::kWarmupDecayLR,
                     .warmup_min_lr = 0.0,
                     .warmup_max_lr = 1e-3,
                     .warmup_num_steps = 10,
                     .warmup_log = false,
                     .total_num_steps = 110};
  EXPECT_DOUBLE_EQ(LearningRate(c, 10), 1e-3);
  EXPECT_DOUBLE_EQ(LearningRate(c, 60), 0.5e-3);
  EXPECT_DOUBLE_EQ(LearningRate(c, 110), 0.0);
  EXPECT_DOUBLE_EQ(LearningRate(c, 200), 0.0);
}

TEST(LrScheduleTest, ConstantIgnoresIteration) {
  LrScheduleConfig c{.type = Type::kConstant, .lr = 2e-4};
  EXPECT_DOUBLE_EQ(LearningRate(c, 0), 2e-4);
  EXPECT_DOUBLE_EQ(LearningRate(c, 1000), 2e-4);
}

}  // namespace
}  // namespace zerod::optim
