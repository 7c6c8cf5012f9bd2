// Reading a checkpoint's optimizer state at another world size (engine/checkpoint/sharded_state.h,
// Note [resharding]), against rank files written here as N ranks would write them
// (engine/zero/engine_state.cpp: per group, float32[shard_numel] master, exp_avg and
// exp_avg_sq, padded as engine/plan/partition.h lays them out, with a data checksum). Every
// real value is known, so a Read must return exactly the group's flat values, whichever
// old shards the range overlaps. Through a training job: tests/train/checkpoint_test.cpp.
#include "engine/checkpoint/sharded_state.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "engine/models/safetensors.h"
#include "engine/plan/partition.h"
#include "engine/util/files.h"
#include "tests/support/test_env.h"

namespace zerod::checkpoint {
namespace {

using zerod::testing::TempDir;

constexpr const char* kWhats[] = {"master", "exp_avg", "exp_avg_sq"};
// Written into the files' padding: a Read that returns it read past a shard's real elements.
constexpr float kPadding = -777.0f;

// The known value of element i of group g's `what` (w: its index in kWhats). Exact in
// float32 for the sizes used here (below 2^24).
float Value(size_t g, int w, int64_t i) {
  return static_cast<float>(1000000 * static_cast<int64_t>(g) + 100000 * w + i);
}

plan::Partition Layout(int64_t numel, int world_size) {
  // kShardAlign, as engine/zero/param_group.cpp partitions a group.
  return plan::MakePartition(numel, world_size, plan::kShardAlign).value();
}

// The files old ranks 0..world_size-1 write for groups of `numels` (their paths, in rank
// order): rank k's shard of each group, real elements first, then padding; with the data
// checksum, as engine_state.cpp writes them.
std::vector<std::string> WriteRankFiles(const TempDir& dir, const std::vector<int64_t>& numels,
                                        int world_size, int64_t adam_step = 7) {
  std::vector<std::string> paths;
  for (int k = 0; k < world_size; ++k) {
    std::vector<std::vector<float>> shards;  // kept alive until written
    std::vector<models::TensorToWrite> tensors;
    for (size_t g = 0; g < numels.size(); ++g) {
      const plan::Partition p = Layout(numels[g], world_size);
      for (int w = 0; w < 3; ++w) {
        std::vector<float> shard(p.shard_numel, kPadding);
        for (int64_t j = 0; j < p.ShardValidNumel(k); ++j)
          shard[j] = Value(g, w, p.ShardBegin(k) + j);
        shards.push_back(std::move(shard));
      }
    }
    size_t at = 0;
    for (size_t g = 0; g < numels.size(); ++g) {
      for (int w = 0; w < 3; ++w, ++at) {
        tensors.push_back({ShardedState::TensorName(g, kWhats[w]),
                           DType::kFloat32,
                           {static_cast<int64_t>(shards[at].size())},
                           shards[at].data(),
                           {}});
      }
    }
    const std::string path = dir.File("rank_" + std::to_string(k) + "_of_" +
                                      std::to_string(world_size) + ".safetensors");
    EXPECT_TRUE(models::WriteSafetensors(path, tensors,
                                         {{"format", "zerod-rank-state-1"},
                                          {"adam_step", std::to_string(adam_step)},
                                          {"groups", std::to_string(numels.size())}},
                                         /*checksum=*/true)
                    .ok());
    paths.push_back(path);
  }
  return paths;
}

// Group g's `what` elements [begin, end) as Read returns them.
std::vector<float> ReadRange(const ShardedState& state, size_t g, int w, int64_t numel,
                             int64_t begin, int64_t end) {
  std::vector<float> out(end - begin, std::numeric_limits<float>::quiet_NaN());
  const absl::Status s = state.Read(g, kWhats[w], numel, begin, end, out.data());
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

// The group's flat values [begin, end): what any Read of that range must return.
std::vector<float> Expected(size_t g, int w, int64_t begin, int64_t end) {
  std::vector<float> v;
  for (int64_t i = begin; i < end; ++i) v.push_back(Value(g, w, i));
  return v;
}

TEST(ShardedStateTest, TensorNameIsTheGroupIndexAndTheStateItHolds) {
  // The names engine_state.cpp writes and every older checkpoint on disk holds.
  EXPECT_EQ(ShardedState::TensorName(3, "master"), "group.3.master");
  EXPECT_EQ(ShardedState::TensorName(0, "exp_avg_sq"), "group.0.exp_avg_sq");
}

// Every range [begin, end) of every group, checkpoints written by 1 to 5 ranks: sizes where
// shards are full, where the last real shard is partial, and where trailing ranks hold only
// padding (9 elements over 4 ranks: 8 on rank 0, 1 on rank 1, none on ranks 2 and 3).
TEST(ShardedStateTest, EveryRangeReadsExactlyTheFlatValuesAtEveryOldWorldSize) {
  const std::vector<int64_t> numels = {1, 9, 16, 37, 100};
  for (int n = 1; n <= 5; ++n) {
    TempDir dir;
    const std::vector<std::string> files = WriteRankFiles(dir, numels, n);
    auto state = ShardedState::Open(files, numels.size(), /*verify=*/true);
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_EQ(state->old_world_size(), n);
    for (size_t g = 0; g < numels.size(); ++g) {
      for (int w = 0; w < 3; ++w) {
        for (int64_t begin = 0; begin <= numels[g]; ++begin) {
          for (int64_t end = begin; end <= numels[g]; ++end) {
            ASSERT_EQ(ReadRange(*state, g, w, numels[g], begin, end), Expected(g, w, begin, end))
                << "written by " << n << " ranks, group " << g << " (" << numels[g] << " elements) "
                << kWhats[w] << " [" << begin << ", " << end << ")";
          }
        }
      }
    }
  }
}

// Resuming at M ranks: each new rank reads its own slice of the real elements, and the
// slices laid end to end are the group, for every pair of old and new world sizes.
TEST(ShardedStateTest, NewRanksSlicesTogetherAreTheGroupForAnyOldAndNewWorldSize) {
  const int64_t numel = 101;
  for (int n = 1; n <= 4; ++n) {
    TempDir dir;
    auto state = ShardedState::Open(WriteRankFiles(dir, {numel}, n), 1, /*verify=*/false);
    ASSERT_TRUE(state.ok()) << state.status();
    for (int m = 1; m <= 4; ++m) {
      const plan::Partition mine = Layout(numel, m);
      std::vector<float> joined;
      for (int r = 0; r < m; ++r) {
        const int64_t begin = mine.ShardBegin(r);
        const int64_t end = std::min(begin + mine.shard_numel, numel);
        if (begin >= end) continue;
        const std::vector<float> slice = ReadRange(*state, 0, 0, numel, begin, end);
        joined.insert(joined.end(), slice.begin(), slice.end());
      }
      EXPECT_EQ(joined, Expected(0, 0, 0, numel)) << n << " ranks -> " << m << " ranks";
    }
  }
}

// Read fills the whole output before copying, so the part of a range past the group's
// real elements is zero, never what the old files hold as padding.
TEST(ShardedStateTest, ARangePastTheRealElementsIsZeroThereNotTheFilesPadding) {
  TempDir dir;
  const int64_t numel = 9;  // 2 ranks of 8: 8 + 1 real, 7 padding on rank 1
  auto state = ShardedState::Open(WriteRankFiles(dir, {numel}, 2), 1, /*verify=*/true);
  ASSERT_TRUE(state.ok()) << state.status();
  const int64_t padded = Layout(numel, 2).padded_numel;
  ASSERT_EQ(padded, 16);
  std::vector<float> want = Expected(0, 1, 6, numel);
  want.resize(padded - 6, 0.0f);
  EXPECT_EQ(ReadRange(*state, 0, 1, numel, 6, padded), want);
}

TEST(ShardedStateTest, AdamStepIsReadBackFromTheFiles) {
  TempDir dir;
  const int64_t step = (int64_t{1} << 40) + 3;  // beyond int32
  auto state = ShardedState::Open(WriteRankFiles(dir, {10}, 3, step), 1, /*verify=*/true);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->adam_step(), step);
}

// Rank files of two saves (steps 7 and 8) mixed: refused naming the file that disagrees.
TEST(ShardedStateTest, OpenRefusesRankFilesOfDifferentSaves) {
  TempDir first, second;
  const std::vector<std::string> a = WriteRankFiles(first, {10}, 2, /*adam_step=*/7);
  const std::vector<std::string> b = WriteRankFiles(second, {10}, 2, /*adam_step=*/8);
  auto state = ShardedState::Open({a[0], b[1]}, 1, /*verify=*/false);
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(state.status().message().find(b[1] + " was saved at optimizer step 8"),
            std::string::npos)
      << state.status();
}

TEST(ShardedStateTest, OpenWithNoFilesIsRefused) {
  auto state = ShardedState::Open({}, 1, /*verify=*/false);
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ShardedStateTest, OpenOfAMissingRankFileIsNotFoundNamingIt) {
  TempDir dir;
  std::vector<std::string> files = WriteRankFiles(dir, {10}, 2);
  files.push_back(dir.File("rank_2_of_3.safetensors"));  // never written
  auto state = ShardedState::Open(files, 1, /*verify=*/false);
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(state.status().message().find("rank_2_of_3.safetensors"), std::string::npos)
      << state.status();
}

TEST(ShardedStateTest, OpenRefusesFilesWrittenForAnotherNumberOfGroups) {
  TempDir dir;
  const std::vector<std::string> files = WriteRankFiles(dir, {10, 20}, 2);
  for (size_t groups : {size_t{1}, size_t{3}}) {
    auto state = ShardedState::Open(files, groups, /*verify=*/false);
    ASSERT_FALSE(state.ok()) << groups << " groups";
    EXPECT_EQ(state.status().code(), absl::StatusCode::kInvalidArgument);
    // The first file is the one refused, and the message says what was expected.
    EXPECT_NE(state.status().message().find(files[0]), std::string::npos) << state.status();
    EXPECT_NE(state.status().message().find(std::to_string(groups) + " units expected"),
              std::string::npos)
        << state.status();
  }
}

// A safetensors file that is not a rank state file (a model's weights): no "groups" or
// "adam_step" metadata.
TEST(ShardedStateTest, OpenRefusesASafetensorsFileThatIsNotRankState) {
  TempDir dir;
  std::vector<float> w(8, 1.0f);
  const std::string path = dir.File("model.safetensors");
  ASSERT_TRUE(models::WriteSafetensors(path,
                                       {{"group.0.master", DType::kFloat32, {8}, w.data(), {}}},
                                       {{"format", "pt"}})
                  .ok());
  auto state = ShardedState::Open({path}, 1, /*verify=*/false);
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(state.status().message().find(path), std::string::npos) << state.status();
}

TEST(ShardedStateTest, OpenRefusesAnAdamStepThatIsNotANumber) {
  TempDir dir;
  std::vector<float> w(8, 1.0f);
  const std::string path = dir.File("rank.safetensors");
  ASSERT_TRUE(models::WriteSafetensors(path,
                                       {{"group.0.master", DType::kFloat32, {8}, w.data(), {}}},
                                       {{"adam_step", "seven"}, {"groups", "1"}})
                  .ok());
  auto state = ShardedState::Open({path}, 1, /*verify=*/false);
  ASSERT_FALSE(state.ok());
  EXPECT_EQ(state.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(state.status().message().find(path), std::string::npos) << state.status();
}

// Rank 1's file lacks group 1's exp_avg_sq: its groups metadata still says 2, so Open
// takes it, and the Read that needs the tensor names the file and the tensor.
TEST(ShardedStateTest, ReadOfAMissingTensorIsInvalidArgumentNamingTheFileAndTensor) {
  TempDir dir;
  const plan::Partition p0 = Layout(10, 2), p1 = Layout(20, 2);
  std::vector<float> a(p0.shard_numel, 0.0f), b(p1.shard_numel, 0.0f);
  std::vector<models::TensorToWrite> tensors;
  for (const char* what : kWhats) {
    tensors.push_back(
        {ShardedState::TensorName(0, what), DType::kFloat32, {p0.shard_numel}, a.data(), {}});
  }
  for (const char* what : {"master", "exp_avg"}) {
    tensors.push_back(
        {ShardedState::TensorName(1, what), DType::kFloat32, {p1.shard_numel}, b.data(), {}});
  }
  const std::string rank1 = dir.File("rank_1_damaged.safetensors");
  // adam_step 7: the step WriteRankFiles gives rank 0 (one save).
  ASSERT_TRUE(models::WriteSafetensors(rank1, tensors, {{"adam_step", "7"}, {"groups", "2"}}).ok());
  // Rank 0 as a 2-rank job writes it.
  const std::vector<std::string> two = WriteRankFiles(dir, {10, 20}, 2);
  auto state = ShardedState::Open({two[0], rank1}, 2, /*verify=*/false);
  ASSERT_TRUE(state.ok()) << state.status();
  std::vector<float> out(20);
  EXPECT_TRUE(state->Read(1, "exp_avg", 20, 0, 20, out.data()).ok());
  const absl::Status s = state->Read(1, "exp_avg_sq", 20, 0, 20, out.data());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(rank1), std::string::npos) << s;
  EXPECT_NE(s.message().find("group.1.exp_avg_sq"), std::string::npos) << s;
  // A group the files do not hold at all is the same error.
  EXPECT_EQ(state->Read(2, "master", 20, 0, 20, out.data()).code(),
            absl::StatusCode::kInvalidArgument);
}

// A numel whose shard size differs from the one the files hold (another model) is refused
// with the size the reader expected, naming the file.
TEST(ShardedStateTest, ReadWithANumelOfAnotherShardSizeIsRefusedNamingTheFile) {
  TempDir dir;
  const std::vector<std::string> files = WriteRankFiles(dir, {37}, 2);  // shard_numel 24
  auto state = ShardedState::Open(files, 1, /*verify=*/false);
  ASSERT_TRUE(state.ok()) << state.status();
  const int64_t other = 60;  // shard_numel 32
  ASSERT_NE(Layout(other, 2).shard_numel, Layout(37, 2).shard_numel);
  std::vector<float> out(other);
  const absl::Status s = state->Read(0, "master", other, 0, other, out.data());
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find(files[0]), std::string::npos) << s;
  EXPECT_NE(s.message().find("float32[32]"), std::string::npos) << s;
}

TEST(ShardedStateTest, ReadRefusesStateStoredInAnotherDtype) {
  TempDir dir;
  std::vector<uint16_t> half(8, 0x3c00);  // fp16 1.0: the right count, the wrong type
  const std::string path = dir.File("rank.safetensors");
  ASSERT_TRUE(models::WriteSafetensors(path,
                                       {{"group.0.master", DType::kFloat16, {8}, half.data(), {}}},
                                       {{"adam_step", "1"}, {"groups", "1"}})
                  .ok());
  auto state = ShardedState::Open({path}, 1, /*verify=*/false);
  ASSERT_TRUE(state.ok()) << state.status();
  std::vector<float> out(5);
  const absl::Status s = state->Read(0, "master", 5, 0, 5, out.data());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find(path), std::string::npos) << s;
}

// The byte offset of a file's data section: 8 + the header length in its first 8 bytes.
uint64_t DataOffset(const std::string& bytes) {
  uint64_t len = 0;
  std::memcpy(&len, bytes.data(), 8);
  return 8 + len;
}

// One flipped bit in old rank 1's data: verify=true refuses the checkpoint naming that
// file; verify=false (the caller verified elsewhere) opens it and the flip reads back.
TEST(ShardedStateTest, VerifyRefusesAFileWhoseDataNoLongerMatchesItsChecksum) {
  TempDir dir;
  const int64_t numel = 40;  // 2 ranks: 24 + 16
  const std::vector<std::string> files = WriteRankFiles(dir, {numel}, 2);
  {
    auto clean = ShardedState::Open(files, 1, /*verify=*/true);
    ASSERT_TRUE(clean.ok()) << clean.status();
  }
  std::string bytes = ReadFileToString(files[1]).value();
  // group.0.master comes first: its element 0 is flat element 24 (24.0f = 0x41c00000).
  const uint64_t at = DataOffset(bytes) + 2;
  bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
  std::ofstream(files[1], std::ios::binary | std::ios::trunc) << bytes;

  auto verified = ShardedState::Open(files, 1, /*verify=*/true);
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(verified.status().message().find(files[1]), std::string::npos) << verified.status();

  auto unverified = ShardedState::Open(files, 1, /*verify=*/false);
  ASSERT_TRUE(unverified.ok()) << unverified.status();
  const std::vector<float> got = ReadRange(*unverified, 0, 0, numel, 23, 25);
  EXPECT_EQ(got[0], Value(0, 0, 23));  // rank 0's data is untouched
  EXPECT_NE(got[1], Value(0, 0, 24));
}

}  // namespace
}  // namespace zerod::checkpoint
