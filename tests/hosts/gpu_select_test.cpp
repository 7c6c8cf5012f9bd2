// GPU selection as launchers bind GPUs (engine/comm/gpu_select.h): one visible GPU, several,
// too few, and a job where some ranks see none.
#include "engine/comm/gpu_select.h"

#include <gtest/gtest.h>

namespace zerod::comm {
namespace {

RankGpuView View(int rank, std::string host, int local_rank, int local_size, int visible,
                 std::string cvd = "") {
  RankGpuView v;
  v.rank = rank;
  v.host = std::move(host);
  v.local_rank = local_rank;
  v.local_size = local_size;
  v.visible = visible;
  v.cuda_visible_devices = std::move(cvd);
  return v;
}

TEST(GpuSelect, OneVisibleGpuIsUsedWhateverTheLocalRank) {
  // srun --gpus-per-task=1: every task sees its own GPU as index 0.
  for (int local = 0; local < 8; ++local) {
    auto d = SelectGpu(View(local, "a", local, 8, 1, std::to_string(local)));
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(*d, std::optional<int>(0));
  }
}

TEST(GpuSelect, SeveralVisibleGpusAreIndexedByLocalRank) {
  for (int local = 0; local < 8; ++local) {
    auto d = SelectGpu(View(8 + local, "b", local, 8, 8));
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(*d, std::optional<int>(local));
  }
  // More GPUs than ranks: the first ones.
  auto d = SelectGpu(View(1, "b", 1, 2, 4));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(*d, std::optional<int>(1));
}

TEST(GpuSelect, FewerVisibleGpusThanLocalRanksNamesHostCountsAndVisibleDevices) {
  for (int local : {0, 3}) {  // every rank of the host fails alike, not only those past 2
    auto d = SelectGpu(View(4 + local, "node7", local, 4, 2, "0,1"));
    ASSERT_FALSE(d.ok());
    const std::string m(d.status().message());
    EXPECT_NE(m.find("host node7 runs 4 ranks"), std::string::npos) << m;
    EXPECT_NE(m.find("sees only 2 GPUs"), std::string::npos) << m;
    EXPECT_NE(m.find("CUDA_VISIBLE_DEVICES=0,1"), std::string::npos) << m;
  }
  auto unset = SelectGpu(View(0, "node7", 0, 3, 2));
  ASSERT_FALSE(unset.ok());
  EXPECT_NE(unset.status().message().find("CUDA_VISIBLE_DEVICES unset"), std::string::npos);
}

TEST(GpuSelect, NoVisibleGpuMeansTheCpu) {
  auto d = SelectGpu(View(0, "a", 0, 2, 0));
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->has_value());
}

TEST(GpuAgreement, EveryRankOnAGpuOrEveryRankOnTheCpu) {
  std::vector<RankGpuView> gpus = {View(0, "a", 0, 2, 2), View(1, "a", 1, 2, 2),
                                   View(2, "b", 0, 2, 1), View(3, "b", 1, 2, 1)};
  auto all = AgreeOnGpus(gpus);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_TRUE(*all);
  std::vector<RankGpuView> cpus = {View(0, "a", 0, 1, 0), View(1, "b", 0, 1, 0)};
  auto none = AgreeOnGpus(cpus);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
}

TEST(GpuAgreement, NoGpuOnSomeRanksIsAnErrorNamingThemNotACpuJob) {
  // The second host's tasks were bound to no GPU (a missing --gpus-per-node, say).
  std::vector<RankGpuView> mixed = {View(0, "a", 0, 2, 2), View(1, "a", 1, 2, 2),
                                    View(2, "b", 0, 2, 0, ""), View(3, "b", 1, 2, 0, "")};
  auto agreed = AgreeOnGpus(mixed);
  ASSERT_FALSE(agreed.ok());
  const std::string m(agreed.status().message());
  EXPECT_NE(m.find("ranks 2, 3 (host b) see no GPU while ranks 0, 1 (host a) do"),
            std::string::npos)
      << m;
}

TEST(GpuAgreement, TheLowestFailingRanksSelectionErrorIsEveryonesAnswer) {
  std::vector<RankGpuView> views = {View(0, "a", 0, 1, 1), View(1, "b", 0, 3, 2, "4,5"),
                                    View(2, "b", 1, 3, 2, "4,5"), View(3, "b", 2, 3, 2, "4,5")};
  auto agreed = AgreeOnGpus(views);
  ASSERT_FALSE(agreed.ok());
  EXPECT_NE(agreed.status().message().find("but rank 1 (local rank 0)"), std::string::npos)
      << agreed.status();
}

TEST(GpuAgreement, TwoRanksOfOneHostOnTheSameGpuAreRefused) {
  // mpirun -np 2 on a host whose ranks were each left one and the same GPU.
  std::vector<RankGpuView> views = {View(0, "a", 0, 2, 1, "3"), View(1, "a", 1, 2, 1, "3")};
  views[0].bus_id = views[1].bus_id = "0000:1b:00.0";
  auto agreed = AgreeOnGpus(views);
  ASSERT_FALSE(agreed.ok());
  EXPECT_NE(agreed.status().message().find("ranks 0 and 1 on host a would share the GPU"),
            std::string::npos)
      << agreed.status();
  // The same bus id on two hosts is two GPUs.
  views[1].host = "b";
  EXPECT_TRUE(AgreeOnGpus(views).ok());
}

}  // namespace
}  // namespace zerod::comm
