#include "engine/data/sample_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/test_env.h"

namespace zerod::data {
namespace {

using zerod::testing::TempDir;

absl::Status WriteTwo(const std::string& path, TokenDType dtype, int64_t vocab) {
  auto w = SampleFileWriter::Create(path, dtype, vocab);
  if (!w.ok()) return w.status();
  absl::Status s = (*w)->Add({1, 2, 3}, {0, 1, 1});
  if (s.ok()) s = (*w)->Add({70000 % vocab, 5}, {1, 0});
  return s.ok() ? (*w)->Finish() : s;
}

TEST(SampleFileTest, SamplesAndLabelFlagsRoundTripInBothWidths) {
  TempDir dir;
  for (auto [dtype, vocab] : {std::pair{TokenDType::kUInt16, int64_t{65536}},
                              std::pair{TokenDType::kUInt32, int64_t{100000}}}) {
    const std::string path = dir.File(dtype == TokenDType::kUInt16 ? "a.bin" : "b.bin");
    ASSERT_TRUE(WriteTwo(path, dtype, vocab).ok());
    EXPECT_TRUE(SampleFile::Exists(path));
    auto f = SampleFile::Open(path, vocab);
    ASSERT_TRUE(f.ok()) << f.status();
    EXPECT_EQ((*f)->num_samples(), 2);
    EXPECT_EQ((*f)->num_tokens(), 5);
    EXPECT_EQ((*f)->SampleLength(1), 2);
    std::vector<int32_t> tokens;
    std::vector<uint8_t> trained;
    (*f)->Sample(0, tokens, trained);
    EXPECT_EQ(tokens, (std::vector<int32_t>{1, 2, 3}));
    EXPECT_EQ(trained, (std::vector<uint8_t>{0, 1, 1}));
    (*f)->Sample(1, tokens, trained);
    EXPECT_EQ(tokens, (std::vector<int32_t>{static_cast<int32_t>(70000 % vocab), 5}));
    EXPECT_EQ(trained, (std::vector<uint8_t>{1, 0}));
    // The token file alone is a plain token stream (token_dataset.h).
    EXPECT_EQ(std::filesystem::file_size(path), 5u * (dtype == TokenDType::kUInt16 ? 2 : 4));
  }
}

TEST(SampleFileTest, AWriterThatDoesNotFinishLeavesNoFile) {
  TempDir dir;
  const std::string path = dir.File("x.bin");
  {
    auto w = SampleFileWriter::Create(path, TokenDType::kUInt16, 100);
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Add({1, 2}, {1, 1}).ok());
    EXPECT_FALSE((*w)->Add({1, 200}, {1, 1}).ok());  // outside the vocabulary
  }
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()),
                          std::filesystem::directory_iterator()),
            0);
  EXPECT_FALSE(SampleFile::Exists(path));
}

TEST(SampleFileTest, DamagedFilesAreRefusedNamingTheFileAndTheFix) {
  TempDir dir;
  const std::string path = dir.File("d.bin");
  ASSERT_TRUE(WriteTwo(path, TokenDType::kUInt16, 65536).ok());
  // A vocabulary smaller than the ids.
  auto small = SampleFile::Open(path, 4);
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.status().message().find("this model's tokenizer"), std::string::npos)
      << small.status();
  // Tokens cut short.
  std::filesystem::resize_file(path, 4);
  auto cut = SampleFile::Open(path, 65536);
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.status().message().find(path), std::string::npos) << cut.status();
  EXPECT_NE(cut.status().message().find("prepare it again"), std::string::npos);
  // Not an index at all.
  std::ofstream(path + ".samples") << "not a header, but long enough to read one from it";
  auto junk = SampleFile::Open(path, 65536);
  ASSERT_FALSE(junk.ok());
  EXPECT_NE(junk.status().message().find("ZSAMPLE1"), std::string::npos) << junk.status();
  EXPECT_FALSE(SampleFile::Open(dir.File("missing.bin"), 10).ok());
}

TEST(SampleFileTest, MemorySampleSetHoldsWhatWasAdded) {
  MemorySampleSet set;
  set.Add({4, 5, 6}, {1, 1, 0});
  set.Add({7}, {1});
  EXPECT_EQ(set.num_samples(), 2);
  EXPECT_EQ(set.num_tokens(), 4);
  std::vector<int32_t> tokens;
  std::vector<uint8_t> trained;
  set.Sample(0, tokens, trained);
  EXPECT_EQ(tokens, (std::vector<int32_t>{4, 5, 6}));
  EXPECT_EQ(trained, (std::vector<uint8_t>{1, 1, 0}));
}

}  // namespace
}  // namespace zerod::data
