#include "engine/plan/partition.h"

#include <gtest/gtest.h>

namespace zerod::plan {
namespace {

TEST(PartitionTest, ShardsCoverEveryElementExactlyOnceForWorldSizes1To8) {
  for (int world = 1; world <= 8; ++world) {
    for (int64_t numel : {0, 1, 7, 8, 9, 63, 64, 65, 1000, 12345}) {
      for (int64_t align : {1, 8}) {
        auto p = MakePartition(numel, world, align);
        ASSERT_TRUE(p.ok());
        EXPECT_EQ(p->padded_numel, p->shard_numel * world);
        EXPECT_GE(p->padded_numel, numel);
        EXPECT_EQ(p->shard_numel % align, 0);
        // Padding is less than one aligned slot per rank.
        EXPECT_LT(p->padded_numel - numel, world * align + world);
        int64_t covered = 0;
        for (int r = 0; r < world; ++r) {
          EXPECT_EQ(p->ShardBegin(r), r * p->shard_numel);
          const int64_t valid = p->ShardValidNumel(r);
          EXPECT_GE(valid, 0);
          EXPECT_LE(valid, p->shard_numel);
          covered += valid;
        }
        EXPECT_EQ(covered, numel) << "world " << world << " numel " << numel;
      }
    }
  }
}

TEST(PartitionTest, UnevenSizeLeavesPaddingOnTheLastRanks) {
  auto p = MakePartition(10, 4).value();  // 3 per rank, 12 padded
  EXPECT_EQ(p.shard_numel, 3);
  EXPECT_EQ(p.padded_numel, 12);
  EXPECT_EQ(p.ShardValidNumel(0), 3);
  EXPECT_EQ(p.ShardValidNumel(2), 3);
  EXPECT_EQ(p.ShardValidNumel(3), 1);
  auto q = MakePartition(2, 4).value();  // more ranks than elements
  EXPECT_EQ(q.ShardValidNumel(1), 1);
  EXPECT_EQ(q.ShardValidNumel(2), 0);
  EXPECT_EQ(q.ShardValidNumel(3), 0);
}

TEST(PartitionTest, AlignmentRoundsShardsUp) {
  auto p = MakePartition(10, 2, 8).value();
  EXPECT_EQ(p.shard_numel, 8);
  EXPECT_EQ(p.padded_numel, 16);
  EXPECT_EQ(p.ShardValidNumel(1), 2);
}

TEST(PartitionTest, RejectsBadArguments) {
  EXPECT_FALSE(MakePartition(10, 0).ok());
  EXPECT_FALSE(MakePartition(10, 2, 0).ok());
  EXPECT_FALSE(MakePartition(-1, 2).ok());
}

TEST(FlatLayoutTest, ParametersLieEndToEndInOrder) {
  FlatLayout l = MakeFlatLayout({{"a", {2, 3}}, {"b", {4}}, {"c", {1, 1, 5}}});
  ASSERT_EQ(l.entries.size(), 3u);
  EXPECT_EQ(l.entries[0].offset, 0);
  EXPECT_EQ(l.entries[0].numel, 6);
  EXPECT_EQ(l.entries[1].offset, 6);
  EXPECT_EQ(l.entries[2].offset, 10);
  EXPECT_EQ(l.numel, 15);
}

TEST(FlatLayoutTest, IntersectGivesShardRelativeRange) {
  using Range = std::pair<int64_t, int64_t>;
  EXPECT_EQ(Intersect(0, 10, 5, 15), Range(0, 5));
  EXPECT_EQ(Intersect(7, 9, 5, 15), Range(2, 4));
  EXPECT_EQ(Intersect(0, 5, 5, 15), Range(0, 0));
}

}  // namespace
}  // namespace zerod::plan
