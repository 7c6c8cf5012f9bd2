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
