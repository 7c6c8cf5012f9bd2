// bf16 and fp16 training through the Job: the loss falls in bf16; in fp16 a step whose
// gradients overflow is skipped on every rank and the loss scale backs off.
#include <gtest/gtest.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "tests/support/test_env.h"

namespace zerod {
namespace {

using testing::World;

std::vector<StepMetrics> Train(const std::string& precision_json, int64_t steps) {
  testing::TempDir dir;
  testing::WriteText(dir.File("config.json"), testing::TinyLlamaConfigJson());
  testing::WriteText(dir.File("ds.json"),
                     absl::StrCat(R"({"train_batch_size": 8, )", precision_json, R"(,
      "optimizer": {"type": "AdamW", "params": {"lr": 3e-3}},
      "zero_optimization": {"stage": 3, "stage3_param_persistence_threshold": 0}})"));
  if (World().rank() == 0)
    testing::WriteTokens(dir.File("data.bin"), testing::SyntheticTokens(20000, 64, 9));
  (void)World().Barrier();
  const JobSpec spec = testing::DirJobSpec(dir, steps, 16, 3);
  auto job = Job::Create(spec, &World());
  EXPECT_TRUE(job.ok()) << job.status();
  std::vector<StepMetrics> out;
  if (!job.ok()) return out;
  for (int64_t i = 0; i < steps; ++i) {
    auto m = (*job)->Step();
    EXPECT_TRUE(m.ok()) << m.status();
    if (!m.ok()) break;
    out.push_back(*m);
  }
  return out;
}

TEST(PrecisionTest, Bf16TrainingLossFalls) {
  auto steps = Train(R"("bf16": {"enabled": true})", 15);
  ASSERT_EQ(steps.size(), 15u);
  EXPECT_LT(steps.back().loss, steps.front().loss - 0.1);
}

TEST(PrecisionTest, Fp16OverflowSkipsTheStepAndBacksOffTheScale) {
  // 2^60 times the loss overflows fp16 gradients: those steps must be skipped (the lr
  // schedule does not advance) until the scale is small enough.
  auto steps =
      Train(R"("fp16": {"enabled": true, "initial_scale_power": 60, "hysteresis": 1})", 60);
  ASSERT_EQ(steps.size(), 60u);
  EXPECT_TRUE(steps.front().skipped);
  EXPECT_EQ(steps.front().grad_norm, 0.0);
  int skipped = 0;
  for (size_t i = 1; i < steps.size(); ++i) {
    if (steps[i - 1].skipped) {
      EXPECT_EQ(steps[i].loss_scale, steps[i - 1].loss_scale / 2) << i;
    }
    skipped += steps[i].skipped;
  }
  EXPECT_FALSE(steps.back().skipped);
  EXPECT_LT(steps.back().loss_scale, std::ldexp(1.0, 30));
  EXPECT_TRUE(std::isfinite(steps.back().loss));
  EXPECT_LT(steps.back().loss, steps.front().loss);
}

}  // namespace
}  // namespace zerod
