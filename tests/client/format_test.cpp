// zeroctl's lines for people: the step's parts and the per-rank memory lines that
// `zeroctl watch` shows under its progress bar; the JSON with an added field.
#include "client/format.h"

#include <gtest/gtest.h>

#include "nlohmann/json.hpp"

namespace zerod::client {
namespace {

TEST(StepPartsLinesTest, GiveEachPartItsSecondsAndShareAndTheWaits) {
  v1::StepMetrics s;
  s.set_step_seconds(0.5);
  s.set_forward_seconds(0.2);
  s.set_backward_seconds(0.15);
  s.set_optimizer_seconds(0.1);
  s.set_transfer_wait_seconds(0.01);
  s.set_optimizer_wait_seconds(0.02);
  const std::vector<std::string> lines = StepPartsLines(s);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0],
            "0.50 s: forward 0.20 (40%)  backward 0.15 (30%)  optimizer 0.10 (20%)  other 0.05");
  EXPECT_EQ(lines[1], "transfers 0.01 s  optimizer 0.02 s");
}

TEST(RankMemoryLinesTest, OneLinePerRankThenASummaryOfTheRest) {
  v1::GetMemoryStatsResponse m;
  for (int r = 0; r < 10; ++r) {
    v1::RankMemory& rank = *m.add_ranks();
    rank.set_rank(r);
    rank.set_device("cuda:" + std::to_string(r));
    rank.set_gpu_peak_bytes(int64_t{r + 1} << 30);
    rank.set_rss_bytes(int64_t{r + 1} << 20);
  }
  std::vector<std::string> lines = RankMemoryLines(m, 16);
  ASSERT_EQ(lines.size(), 10u);
  EXPECT_EQ(lines[0], "rank 0   cuda:0  GPU peak 1.0 GiB     RSS 1.0 MiB");
  lines = RankMemoryLines(m, 4);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[3], "ranks 3-9: largest GPU peak 10.0 GiB, largest RSS 10.0 MiB");
}

TEST(ToJsonTest, AnAddedFieldLeavesTheMessagesOwnFieldsAsTheyWere) {
  v1::JobEvent event;
  event.mutable_step()->set_step(3);
  event.mutable_step()->set_loss(2.5);
  v1::GetMemoryStatsResponse memory;
  memory.set_step(3);
  memory.add_ranks()->set_rss_bytes(42);
  const auto plain = nlohmann::json::parse(ToJson(event));
  const auto with = nlohmann::json::parse(ToJson(event, "memory", memory));
  EXPECT_EQ(with["step"], plain["step"]);
  EXPECT_EQ(with["memory"]["ranks"][0]["rss_bytes"], 42);
  EXPECT_EQ(with["memory"]["step"], 3);
}

}  // namespace
}  // namespace zerod::client
