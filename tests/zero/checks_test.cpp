// The preconditions said to the program (ZEROD_CHECK, engine/util/check.h) stop it when
// broken: a unit run on parameters without values, a stream scope ended on another
// thread.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <thread>
#include <utility>

#include "engine/models/decoder.h"
#include "engine/models/hf_config.h"
#include "engine/zero/device_streams.h"
#include "tests/support/test_env.h"

namespace zerod {
namespace {

class ChecksDeathTest : public ::testing::Test {
 protected:
  // The child process re-runs the binary up to the test: safe beside torch's and MPI's
  // threads, which fork alone is not.
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
};

TEST_F(ChecksDeathTest, AUnitRunOnParametersWithoutValuesStops) {
  auto config =
      models::ParseDecoderConfig(zerod::testing::TinyLlamaConfigJson(64, 32, 1), "tiny").value();
  auto units = models::BuildDecoderUnits(config);  // placeholders: nothing bound yet
  torch::Tensor ids = torch::zeros({1, 4}, torch::kInt64);
  EXPECT_DEATH((void)units.front()->Forward(ids), "check failed: p.storage\\(\\).data\\(\\)");
}

TEST_F(ChecksDeathTest, AStreamScopeEndedOnAnotherThreadStops) {
  zero::DeviceStreams streams(torch::Device(torch::kCPU));
  EXPECT_DEATH(
      {
        auto scope = streams.Enter(zero::SideStream::kCopyOut);
        std::thread([s = std::move(scope)]() mutable { auto ended = std::move(s); }).join();
      },
      "check failed: thread_ ==");
}

TEST(ChecksTest, AScopeMovedWithinItsThreadEndsQuietly) {
  zero::DeviceStreams streams(torch::Device(torch::kCPU));
  auto scope = streams.Enter(zero::SideStream::kUpdate);
  auto moved = std::move(scope);  // the moved-from Scope checks nothing when it ends
  SUCCEED();
}

}  // namespace
}  // namespace zerod
