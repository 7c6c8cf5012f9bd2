#include "engine/data/sampler.h"

#include <gtest/gtest.h>

#include <set>

#include "engine/data/token_dataset.h"
#include "tests/support/test_env.h"

namespace zerod::data {
namespace {

using zerod::testing::TempDir;
using zerod::testing::WriteTokens;

TEST(TokenDatasetTest, ReadsLittleEndianTokens) {
  TempDir dir;
  WriteTokens(dir.File("t.bin"), {1, 2, 300, 65535});
  auto ds = TokenDataset::Open(dir.File("t.bin"), TokenDType::kUInt16, 65536);
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ((*ds)->size(), 4);
  EXPECT_EQ((**ds)[2], 300);
  EXPECT_EQ((**ds)[3], 65535);
  auto as32 = TokenDataset::Open(dir.File("t.bin"), TokenDType::kUInt32, int64_t{1} << 33);
  ASSERT_TRUE(as32.ok());
  EXPECT_EQ((*as32)->size(), 2);
  EXPECT_EQ((**as32)[0], 1 + (2 << 16));
}

TEST(TokenDatasetTest, VocabularyMismatchNamesTheTokenAndTheVocab) {
  TempDir dir;
  WriteTokens(dir.File("t.bin"), {1, 2, 300});
  auto ds = TokenDataset::Open(dir.File("t.bin"), TokenDType::kUInt16, 256);
  ASSERT_FALSE(ds.ok());
  EXPECT_NE(ds.status().message().find("token id 300 at token 2"), std::string::npos)
      << ds.status();
  EXPECT_NE(ds.status().message().find("vocab_size is 256"), std::string::npos);
}

TEST(TokenDatasetTest, WrongWidthAndMissingFilesAreClearErrors) {
  TempDir dir;
  zerod::testing::WriteText(dir.File("odd.bin"), "abc");
  auto odd = TokenDataset::Open(dir.File("odd.bin"), TokenDType::kUInt16, 256);
  ASSERT_FALSE(odd.ok());
  EXPECT_NE(odd.status().message().find("not a positive multiple of 2"), std::string::npos);
  auto missing = TokenDataset::Open(dir.File("nope.bin"), TokenDType::kUInt16, 256);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(ParseTokenDType("int8").ok());
}

TEST(SamplerTest, RanksSplitTheSameGlobalBatchAtAnyWorldSize) {
  TempDir dir;
  std::vector<uint16_t> tokens(1000);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<uint16_t>(i % 500);
  WriteTokens(dir.File("t.bin"), tokens);
  auto ds = TokenDataset::Open(dir.File("t.bin"), TokenDType::kUInt16, 500).value();
  const int64_t L = 8, global = 8;
  SamplerConfig one{L, global, 2, 4, 1, 7};
  auto s1 = DistributedSampler::Create(ds.get(), one).value();
  for (int world : {2, 4}) {
    SamplerConfig cfg{L, global, 2, global / (2 * world), world, 7};
    auto sw = DistributedSampler::Create(ds.get(), cfg).value();
    for (int64_t step = 0; step < 3; ++step) {
      std::multiset<std::vector<int64_t>> a, b;
      std::vector<int64_t> all = s1.GlobalBatch(step);
      for (int64_t i = 0; i < global; ++i)
        a.insert({all.begin() + i * (L + 1), all.begin() + (i + 1) * (L + 1)});
      for (int r = 0; r < world; ++r) {
        for (int64_t m = 0; m < cfg.grad_accum; ++m) {
          auto mb = sw.MicroBatch(step, m, r);
          ASSERT_EQ(mb.size(), static_cast<size_t>(2 * (L + 1)));
          for (int i = 0; i < 2; ++i)
            b.insert({mb.begin() + i * (L + 1), mb.begin() + (i + 1) * (L + 1)});
        }
      }
      EXPECT_EQ(a, b) << "world " << world << " step " << step;
    }
  }
}

TEST(SamplerTest, WindowsAreConsecutiveTokensAndDependOnTheSeed) {
  TempDir dir;
  std::vector<uint16_t> tokens(300);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<uint16_t>(i);
  WriteTokens(dir.File("t.bin"), tokens);
  auto ds = TokenDataset::Open(dir.File("t.bin"), TokenDType::kUInt16, 300).value();
  auto a = DistributedSampler::Create(ds.get(), {16, 1, 1, 1, 1, 1}).value();
  auto b = DistributedSampler::Create(ds.get(), {16, 1, 1, 1, 1, 2}).value();
  auto w = a.GlobalBatch(0);
  for (size_t i = 1; i < w.size(); ++i) EXPECT_EQ(w[i], w[i - 1] + 1);
  EXPECT_LE(w.back(), 299);
  int differ = 0;
  for (int64_t step = 0; step < 10; ++step)
    differ += a.WindowStart(step, 0) != b.WindowStart(step, 0);
  EXPECT_GT(differ, 5);
}

TEST(SamplerTest, RefusesDataShorterThanOneWindow) {
  TempDir dir;
  WriteTokens(dir.File("t.bin"), {1, 2, 3});
  auto ds = TokenDataset::Open(dir.File("t.bin"), TokenDType::kUInt16, 10).value();
  auto s = DistributedSampler::Create(ds.get(), {8, 1, 1, 1, 1, 1});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("fewer than one window"), std::string::npos);
}

}  // namespace
}  // namespace zerod::data
