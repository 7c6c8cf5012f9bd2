// `zerod --plan` as a user runs it: no mpirun, no GPU. The plan of the embedded tiny
// model fits and prints its table or JSON; a host too small for the seed's 13B-shaped
// job is refused with exit 1 naming the memory short and a remedy; bad flags are named.
#include <gtest/gtest.h>

#include <string>

#include "nlohmann/json.hpp"
#include "tests/e2e/run_zerod.h"

namespace zerod::e2e {
namespace {

Result RunPlan(const std::string& args) {
  return RunCommand(std::string("timeout 60 ") + ZEROD_BIN + " --plan " + args + " 2>&1");
}

const std::string kTiny = std::string("--model ") + ZEROD_SOURCE_DIR + "/configs/models/tiny-llama";
const std::string kSeed =
    std::string(" --ds-config ") + ZEROD_SOURCE_DIR + "/configs/ds_zero3_offload.json";
const std::string kAuto =
    std::string(" --ds-config ") + ZEROD_SOURCE_DIR + "/configs/ds_zero3_auto.json";
const std::string k13B = std::string("--model ") + ZEROD_SOURCE_DIR + "/bench/models/llama-13b";

TEST(PlanCommandTest, TheTinyModelFitsAndThePlanIsPrinted) {
  const Result r = RunPlan(kTiny + kSeed + " --gpu-memory 80GiB --host-memory 64GiB");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("optimizer state (fp32 master, m, v)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("fits: yes"), std::string::npos) << r.output;
}

TEST(PlanCommandTest, JsonHasFitsAndPerRankBytes) {
  const Result r = RunPlan(k13B + kAuto +
                           " --world-size 2 --gpu-memory 141GiB --host-memory 256GiB "
                           "--seq-len 2048 --activation-checkpointing --log-format json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_TRUE(j["fits"].get<bool>());
  ASSERT_EQ(j["ranks"].size(), 2u);
  EXPECT_GT(j["ranks"][0]["gpu_bytes"].get<int64_t>(), 0);
  EXPECT_GT(j["ranks"][1]["host_bytes"].get<int64_t>(), 0);
}

TEST(PlanCommandTest, APlanThatDoesNotFitExitsOneNamingTheShortfall) {
  const std::string seed13 =
      std::string(" --ds-config ") + ZEROD_SOURCE_DIR + "/configs/ds_zero3_offload_bf16.json";
  const Result r = RunPlan(k13B + seed13 +
                           " --gpu-memory 141GiB --host-memory 128GiB --seq-len 2048 "
                           "--activation-checkpointing");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("zerod: error: the model does not fit: host memory needs"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("\"auto\""), std::string::npos) << r.output;
}

// Several hosts (issue 27): --hosts splits the world; without it a GPU plan of 16 ranks is
// two hosts of 8, not 16 ranks sharing one host's memory; an uneven split is named.
TEST(PlanCommandTest, RanksPerHostComeFromHostsOrAHostOfEightGpus) {
  for (const std::string extra : {" --hosts 2", ""}) {
    const Result r = RunPlan(kTiny + kAuto + " --world-size 16 --gpu-memory 80GiB" + extra);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("world size 16 (8 per host)"), std::string::npos) << r.output;
  }
  const Result four = RunPlan(kTiny + kAuto + " --world-size 16 --hosts 4 --gpu-memory 80GiB");
  EXPECT_NE(four.output.find("world size 16 (4 per host)"), std::string::npos) << four.output;
  const Result uneven = RunPlan(kTiny + kAuto + " --world-size 12 --hosts 5 --gpu-memory 80GiB");
  EXPECT_EQ(uneven.exit_code, 1) << uneven.output;
  EXPECT_NE(uneven.output.find("12 % 5 = 2"), std::string::npos) << uneven.output;
}

TEST(PlanCommandTest, BadInputIsNamed) {
  Result r = RunPlan(kTiny + kSeed + " --gpu-memory lots");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("--gpu-memory \"lots\""), std::string::npos) << r.output;
  r = RunPlan(kTiny);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("--plan needs --model and --ds-config"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace zerod::e2e
