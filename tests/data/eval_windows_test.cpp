#include "engine/data/eval_windows.h"

#include <gtest/gtest.h>

#include <set>

#include "tests/support/test_env.h"

namespace zerod::data {
namespace {

using zerod::testing::TempDir;

// 50 tokens, token i = i: windows of 4 + 1 start at 0, 5, 10, ... (10 windows).
std::unique_ptr<TokenDataset> Counting(const TempDir& dir, int n = 50) {
  std::vector<uint16_t> tokens(n);
  for (int i = 0; i < n; ++i) tokens[i] = static_cast<uint16_t>(i);
  zerod::testing::WriteTokens(dir.File("t.bin"), tokens);
  return TokenDataset::Open(dir.File("t.bin"), TokenDType::kUInt16, 1000).value();
}

TEST(EvalWindowsTest, WindowsAreConsecutiveAndDoNotOverlap) {
  TempDir dir;
  auto ds = Counting(dir);
  auto w = EvalWindows::Create(ds.get(), {4, 2, 1, 1, 0}).value();
  EXPECT_EQ(w.num_windows(), 10);
  EXPECT_EQ(w.num_batches(), 5);
  EXPECT_EQ(w.Tokens({0, 3}), (std::vector<int64_t>{0, 1, 2, 3, 4, 15, 16, 17, 18, 19}));
}

TEST(EvalWindowsTest, RanksSplitEachBatchAndTheLastBatchIsPadded) {
  TempDir dir;
  auto ds = Counting(dir);
  // 10 windows, batches of 4 over 2 ranks in forwards of 1: 3 batches, the last half past
  // the file.
  std::multiset<int64_t> seen;
  int padding = 0;
  for (int rank = 0; rank < 2; ++rank) {
    auto w = EvalWindows::Create(ds.get(), {4, 4, 1, 2, 0}).value();
    ASSERT_EQ(w.num_batches(), 3);
    ASSERT_EQ(w.micro_steps(), 2);
    for (int64_t b = 0; b < 3; ++b) {
      for (int64_t m = 0; m < 2; ++m) {
        for (int64_t i : w.MicroBatchWindows(b, m, rank)) {
          if (i < 0)
            ++padding;
          else
            seen.insert(i);
        }
      }
    }
  }
  EXPECT_EQ(padding, 2);
  EXPECT_EQ(seen, (std::multiset<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  auto w = EvalWindows::Create(ds.get(), {4, 4, 1, 2, 0}).value();
  EXPECT_EQ(w.MicroBatchWindows(0, 1, 1), std::vector<int64_t>{3});  // rank 1 holds 2, 3
  EXPECT_EQ(w.Tokens({-1}), (std::vector<int64_t>{0, 1, 2, 3, 4}));   // padding: window 0
}

TEST(EvalWindowsTest, BatchesTakeTheFirstWindowsOnly) {
  TempDir dir;
  auto ds = Counting(dir);
  auto w = EvalWindows::Create(ds.get(), {4, 4, 2, 1, 2}).value();
  EXPECT_EQ(w.num_windows(), 8);
  EXPECT_EQ(w.MicroBatchWindows(1, 1, 0), (std::vector<int64_t>{6, 7}));
}

TEST(EvalWindowsTest, ErrorsPrintTheArithmetic) {
  TempDir dir;
  auto ds = Counting(dir);
  auto too_many = EvalWindows::Create(ds.get(), {4, 4, 1, 1, 3});
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.status().message().find("--batches 3 * 4 windows per batch = 12 windows"),
            std::string::npos)
      << too_many.status();
  auto short_file = EvalWindows::Create(ds.get(), {50, 1, 1, 1, 0});
  ASSERT_FALSE(short_file.ok());
  EXPECT_NE(short_file.status().message().find("holds 50 tokens, fewer than one evaluation "
                                               "window of --seq-len 50 + 1 = 51"),
            std::string::npos)
      << short_file.status();
  EXPECT_FALSE(EvalWindows::Create(ds.get(), {4, 6, 2, 2, 0}).ok());  // 6 % (2 * 2) != 0
}

}  // namespace
}  // namespace zerod::data
