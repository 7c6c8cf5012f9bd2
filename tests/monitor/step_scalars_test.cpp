// The scalars of a step: DeepSpeed's names and x axis (Note [x axis]), zerod's own under
// zerod/, fp16's loss scale and the GPU's numbers only where they mean something.
#include "engine/monitor/step_scalars.h"

#include <gtest/gtest.h>

#include <map>

namespace zerod::monitor {
namespace {

std::map<std::string, Scalar> ByTag(const std::vector<Scalar>& scalars) {
  std::map<std::string, Scalar> out;
  for (const Scalar& s : scalars) EXPECT_TRUE(out.emplace(s.tag, s).second) << s.tag;
  return out;
}

TEST(StepScalarsTest, LossSitsAtTheSamplesBeforeTheStepAndTheRestAfterIt) {
  StepMetrics m;
  m.step = 3;
  m.loss = 4.5;
  m.lr = 2e-4;
  m.grad_norm = 0.8;
  m.tokens_per_s = 1e6;
  m.forward_seconds = 0.25;
  m.host_rss_bytes = int64_t{3} << 30;
  auto s = ByTag(StepScalars(m, {.train_batch_size = 8, .num_parameters = 1'000'000'000}));
  EXPECT_EQ(s.at("Train/Samples/train_loss").step, 16);
  EXPECT_EQ(s.at("Train/Samples/train_loss").value, 4.5);
  EXPECT_EQ(s.at("Train/Samples/lr").step, 24);
  EXPECT_EQ(s.at("Train/Samples/lr").value, 2e-4);
  EXPECT_EQ(s.at("zerod/grad_norm").value, 0.8);
  EXPECT_EQ(s.at("zerod/time/forward_s").value, 0.25);
  EXPECT_EQ(s.at("zerod/memory/host_rss_GiB").value, 3.0);
  EXPECT_DOUBLE_EQ(s.at("zerod/throughput/model_tflops_per_s").value, 6000.0);  // 6 N tokens/s
  for (const char* tag : {"zerod/time/backward_s", "zerod/time/optimizer_s",
                          "zerod/time/transfer_wait_s", "zerod/time/optimizer_wait_s",
                          "zerod/throughput/tokens_per_s", "zerod/memory/host_peak_rss_GiB"}) {
    ASSERT_TRUE(s.count(tag)) << tag;
    EXPECT_EQ(s.at(tag).step, 24) << tag;
  }
  EXPECT_FALSE(s.count("Train/Samples/loss_scale"));  // DeepSpeed writes it only with fp16
  EXPECT_FALSE(s.count("zerod/memory/gpu_peak_GiB"));
}

TEST(StepScalarsTest, Fp16AddsTheLossScaleAndAGpuItsPeak) {
  StepMetrics m;
  m.step = 1;
  m.loss_scale = 65536;
  m.gpu_peak_bytes = int64_t{1} << 30;
  auto s = ByTag(StepScalars(m, {.train_batch_size = 4, .fp16 = true, .gpu = true}));
  EXPECT_EQ(s.at("Train/Samples/train_loss").step, 0);
  EXPECT_EQ(s.at("Train/Samples/loss_scale").value, 65536);
  EXPECT_EQ(s.at("Train/Samples/loss_scale").step, 4);
  EXPECT_EQ(s.at("zerod/memory/gpu_peak_GiB").value, 1.0);
}

}  // namespace
}  // namespace zerod::monitor
