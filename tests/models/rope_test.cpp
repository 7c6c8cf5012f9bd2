// RoPE's length-dependent types (the fixtures check yarn and longrope against transformers
// end to end): dynamic is the default up to max_position_embeddings and grows its base
// past it; longrope switches from its short to its long factors past the pre-training
// length; the cos/sin scalings; partial rotary dimensions.
#include "engine/models/rope.h"

#include <gtest/gtest.h>

#include <cmath>

namespace zerod::models {
namespace {

const RopeShape kShape{.head_dim = 16, .max_position_embeddings = 64};

TEST(RopeTest, DynamicIsTheDefaultUpToMaxPositionsAndScalesPastThem) {
  RopeConfig dynamic{.type = RopeType::kDynamic, .factor = 2.0};
  const torch::Tensor base = RopeInverseFrequencies({}, kShape, 64, torch::kCPU);
  EXPECT_TRUE(torch::equal(RopeInverseFrequencies(dynamic, kShape, 64, torch::kCPU), base));
  const torch::Tensor grown = RopeInverseFrequencies(dynamic, kShape, 128, torch::kCPU);
  // base * ((2 * 128 / 64) - 1)^(16 / 14)
  const double theta = 10000.0 * std::pow(3.0, 16.0 / 14.0);
  EXPECT_NEAR(grown[1].item<double>(), 1.0 / std::pow(theta, 2.0 / 16.0), 1e-7);
}

TEST(RopeTest, LongropeSwitchesFactorsPastThePretrainingLength) {
  RopeConfig longrope{.type = RopeType::kLongrope,
                      .factor = 0.0,  // absent from the config: derived
                      .original_max_position_embeddings = 16,
                      .short_factor = std::vector<double>(8, 1.0),
                      .long_factor = std::vector<double>(8, 4.0)};
  const torch::Tensor base = RopeInverseFrequencies({}, kShape, 16, torch::kCPU);
  EXPECT_TRUE(torch::allclose(RopeInverseFrequencies(longrope, kShape, 16, torch::kCPU), base));
  EXPECT_TRUE(
      torch::allclose(RopeInverseFrequencies(longrope, kShape, 17, torch::kCPU), base / 4.0));
  // factor = 64 / 16: cos and sin times sqrt(1 + ln 4 / ln 16) = sqrt(1.5).
  EXPECT_NEAR(RopeAttentionScaling(longrope, kShape), std::sqrt(1.5), 1e-12);
}

TEST(RopeTest, YarnScalesCosAndSinByItsMscale) {
  RopeConfig yarn{.type = RopeType::kYarn, .factor = 4.0};
  EXPECT_NEAR(RopeAttentionScaling(yarn, kShape), 0.1 * std::log(4.0) + 1.0, 1e-12);
  yarn.mscale = 0.8, yarn.mscale_all_dim = 0.5;
  EXPECT_NEAR(RopeAttentionScaling(yarn, kShape),
              (0.08 * std::log(4.0) + 1.0) / (0.05 * std::log(4.0) + 1.0), 1e-12);
  auto [cos, sin] = RopeTables(yarn, kShape, 3, torch::kFloat32, torch::kCPU);
  EXPECT_NEAR(cos[0][0].item<double>(), RopeAttentionScaling(yarn, kShape), 1e-6);
}

TEST(RopeTest, PartialRotaryRotatesTheFirstDimensionsOnly) {
  RopeConfig partial{.partial_rotary_factor = 0.5};
  EXPECT_EQ(RotaryDims(partial, kShape), 8);
  auto [cos, sin] = RopeTables(partial, kShape, 5, torch::kFloat32, torch::kCPU);
  ASSERT_EQ(cos.size(1), 8);
  const torch::Tensor x = torch::randn({1, 1, 5, 16});
  const torch::Tensor y = ApplyRope(x, cos, sin);
  EXPECT_TRUE(torch::equal(y.narrow(-1, 8, 8), x.narrow(-1, 8, 8)));
  EXPECT_FALSE(torch::equal(y.narrow(-1, 0, 8), x.narrow(-1, 0, 8)));
}

}  // namespace
}  // namespace zerod::models
