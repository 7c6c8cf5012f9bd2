#include "engine/optim/loss_scaler.h"

#include <gtest/gtest.h>

namespace zerod::optim {
namespace {

TEST(LossScalerTest, StartsAtTwoToTheInitialPower) {
  LossScaler s({.dynamic = true, .initial_scale_power = 16});
  EXPECT_EQ(s.scale(), 65536.0);
}

TEST(LossScalerTest, BacksOffOnlyAfterHysteresisOverflows) {
  LossScaler s({.dynamic = true, .initial_scale_power = 4, .window = 1000, .hysteresis = 2});
  s.Update(true);  // first overflow: hysteresis absorbs it
  EXPECT_EQ(s.scale(), 16.0);
  s.Update(true);  // second: halve
  EXPECT_EQ(s.scale(), 8.0);
  s.Update(true);  // hysteresis is not restored without a window of clean steps
  EXPECT_EQ(s.scale(), 4.0);
}

TEST(LossScalerTest, GrowsAfterAWindowOfCleanSteps) {
  LossScaler s({.dynamic = true, .initial_scale_power = 4, .window = 3, .hysteresis = 1});
  s.Update(true);  // 16 -> 8 at iteration 0
  EXPECT_EQ(s.scale(), 8.0);
  s.Update(false);  // iteration 1: 1 since overflow
  s.Update(false);  // 2
  EXPECT_EQ(s.scale(), 8.0);
  s.Update(false);  // 3: a full window
  EXPECT_EQ(s.scale(), 16.0);
}

TEST(LossScalerTest, NeverGoesBelowMinAndReportsBeingStuck) {
  LossScaler s({.dynamic = true, .initial_scale_power = 1, .hysteresis = 1, .min_scale = 1.0});
  s.Update(true);  // 2 -> 1
  EXPECT_EQ(s.scale(), 1.0);
  EXPECT_FALSE(s.stuck_at_min());
  s.Update(true);
  EXPECT_EQ(s.scale(), 1.0);
  EXPECT_TRUE(s.stuck_at_min());
}

TEST(LossScalerTest, StaticScaleNeverChanges) {
  LossScaler s({.dynamic = false, .static_scale = 128.0});
  s.Update(true);
  s.Update(false);
  EXPECT_EQ(s.scale(), 128.0);
}

}  // namespace
}  // namespace zerod::optim
