// One plan for every host (engine/plan/host_check.h): rank 0's plan checked against a host
// with less memory or a smaller GPU, and the ranks per host `zerod --plan` assumes.
#include "engine/plan/host_check.h"

#include <gtest/gtest.h>

namespace zerod::plan {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;

Plan PlanNeeding(int64_t host_per_rank, int64_t gpu_per_rank) {
  Plan p;
  p.host.optimizer = host_per_rank;
  p.gpu.params = gpu_per_rank;
  p.fits = true;
  return p;
}

HostFacts Host(std::string name, int rank, int ranks, int64_t host_bytes, int64_t gpu_bytes) {
  HostFacts h;
  h.host = std::move(name);
  h.rank = rank;
  h.ranks_on_host = ranks;
  h.host_bytes = host_bytes;
  h.host_source = "the cgroup's memory limit (MemTotal 1007.0 GiB)";
  h.gpu = gpu_bytes > 0;
  h.gpu_bytes = gpu_bytes;
  return h;
}

TEST(CheckPlanOnHost, AHostAsLargeAsRankZerosHoldsItsPlan) {
  EXPECT_TRUE(CheckPlanOnHost(PlanNeeding(50 * kGiB, 60 * kGiB),
                              Host("a", 0, 8, 1000 * kGiB, 141 * kGiB))
                  .ok());
}

TEST(CheckPlanOnHost, AHostWithATighterCgroupIsNamedWithBothSides) {
  const auto s =
      CheckPlanOnHost(PlanNeeding(50 * kGiB, 60 * kGiB), Host("b", 9, 8, 256 * kGiB, 141 * kGiB));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  const std::string m(s.message());
  EXPECT_NE(m.find("host b (rank 9) cannot hold rank 0's plan"), std::string::npos) << m;
  EXPECT_NE(m.find("50.0 GiB of host memory per rank"), std::string::npos) << m;
  EXPECT_NE(m.find("the cgroup's memory limit"), std::string::npos) << m;
}

TEST(CheckPlanOnHost, ASmallerGpuIsNamed) {
  const auto s =
      CheckPlanOnHost(PlanNeeding(1 * kGiB, 80 * kGiB), Host("c", 4, 1, 1000 * kGiB, 80 * kGiB));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("GPU memory per rank"), std::string::npos) << s;
}

TEST(RanksPerHost, GivenHostsSplitTheWorldEvenlyOrSayWhyNot) {
  EXPECT_EQ(*RanksPerHost(16, 2, 0, true), 8);
  EXPECT_EQ(*RanksPerHost(16, 4, 0, false), 4);
  const auto uneven = RanksPerHost(12, 5, 0, true);
  ASSERT_FALSE(uneven.ok());
  EXPECT_NE(uneven.status().message().find("12 % 5 = 2"), std::string::npos) << uneven.status();
}

TEST(RanksPerHost, ExplicitRanksPerHostWinsAndGpuPlansDefaultToEightPerHost) {
  EXPECT_EQ(*RanksPerHost(16, 2, 4, true), 4);
  EXPECT_EQ(*RanksPerHost(16, 0, 0, true), 8);  // not 16 on one host
  EXPECT_EQ(*RanksPerHost(4, 0, 0, true), 4);
  EXPECT_EQ(*RanksPerHost(16, 0, 0, false), 16);  // a CPU plan: one host
}

}  // namespace
}  // namespace zerod::plan
