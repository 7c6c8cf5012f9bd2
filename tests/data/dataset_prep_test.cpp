// Preparing a dataset file into a sample file: the summary, skipped records, a record in
// another format, no trained token at all, and the cache (key, reuse, a new key on change).
#include "engine/data/dataset_prep.h"

#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "engine/data/sample_file.h"
#include "gtest/gtest.h"

namespace zerod::data {
namespace {

const std::string kChatml = std::string(ZEROD_SOURCE_DIR) + "/tests/fixtures/sft/chatml";

std::string Write(const std::string& name, const std::string& text) {
  const std::string dir = ::testing::TempDir() + "/dataset_prep";
  ::mkdir(dir.c_str(), 0755);
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

constexpr const char* kChat =
    R"({"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"}]})"
    "\n"
    R"({"messages": [{"role": "user", "content": "Nobody answers"}]})"
    "\n";

TEST(DatasetPrepTest, ConversationsBecomeSamplesAndUnansweredOnesAreSkipped) {
  const std::string in = Write("chat.jsonl", kChat);
  auto s = PrepareDataset(in, kChatml, {}, in + ".bin");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->format, DatasetFormat::kConversation);
  EXPECT_EQ(s->records, 2);
  EXPECT_EQ(s->samples, 1);
  EXPECT_EQ(s->skipped, 1);
  EXPECT_GT(s->tokens, s->trained_tokens);
  auto file = SampleFile::Open(in + ".bin", s->vocab_size);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->num_samples(), 1);
  EXPECT_EQ((*file)->num_tokens(), s->tokens);
}

TEST(DatasetPrepTest, CsvPromptCompletionTrainsTheCompletionAndEos) {
  const std::string in = Write("pc.csv", "prompt,completion\n\"Q: 2+2?\",\" 4\"\n");
  auto s = PrepareDataset(in, kChatml, {}, in + ".bin");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->format, DatasetFormat::kPromptCompletion);
  auto file = SampleFile::Open(in + ".bin", s->vocab_size);
  ASSERT_TRUE(file.ok());
  std::vector<int32_t> tokens;
  std::vector<uint8_t> trained;
  (*file)->Sample(0, tokens, trained);
  EXPECT_EQ(tokens.back(), s->eos_id);
  EXPECT_EQ(trained.back(), 1);
  EXPECT_EQ(trained.front(), 0);
}

TEST(DatasetPrepTest, RecordInAnotherFormatIsNamed) {
  const std::string in =
      Write("mixed.jsonl", "{\"text\": \"a\"}\n{\"prompt\": \"a\", \"completion\": \"b\"}\n");
  auto s = PrepareDataset(in, kChatml, {}, in + ".bin");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(
                "mixed.jsonl:2: a prompt-completion record in a text dataset (the format is the "
                "first record's, "),
            std::string::npos)
      << s.status();
  EXPECT_FALSE(SampleFile::Exists(in + ".bin"));  // nothing half-written is left
}

TEST(DatasetPrepTest, NoTrainedTokenInTheWholeDatasetIsAnError) {
  const std::string in =
      Write("silent.jsonl", R"({"messages": [{"role": "user", "content": "Nobody"}]})"
                            "\n");
  auto s = PrepareDataset(in, kChatml, {}, in + ".bin");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("no record has a token to train on (1 records, 1 skipped"),
            std::string::npos)
      << s.status();
}

TEST(DatasetPrepTest, EmptyDatasetIsAnError) {
  const std::string in = Write("empty.jsonl", "\n\n");
  auto s = PrepareDataset(in, kChatml, {}, in + ".bin");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("no records"), std::string::npos);
}

TEST(DatasetPrepTest, CachedPreparationIsReusedUntilTheDatasetOrOptionsChange) {
  const std::string in = Write("cached.jsonl", kChat);
  auto first = PrepareCached(in, kChatml, {});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->reused);
  EXPECT_EQ(first->path.rfind(in + ".zerod-", 0), 0u) << first->path;
  EXPECT_EQ(first->path.size(), in.size() + 7 + 16 + 4);  // .zerod-<16 hex>.bin
  EXPECT_TRUE(SampleFile::Exists(first->path));

  auto again = PrepareCached(in, kChatml, {});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->reused);
  EXPECT_EQ(again->path, first->path);
  EXPECT_EQ(again->summary.samples, first->summary.samples);
  EXPECT_EQ(again->summary.trained_tokens, first->summary.trained_tokens);

  DatasetOptions all;
  all.train_on_all = true;
  auto other = PrepareCached(in, kChatml, all);
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_NE(other->path, first->path);
  EXPECT_EQ(other->summary.trained_tokens, other->summary.tokens);

  // A changed dataset (size and mtime) is prepared again under a new key.
  std::ofstream(in, std::ios::app)
      << R"({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y"}]})"
      << "\n";
  auto changed = PrepareCached(in, kChatml, {});
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_FALSE(changed->reused);
  EXPECT_NE(changed->path, first->path);
  EXPECT_EQ(changed->summary.samples, 2);
}

TEST(DatasetPrepTest, KeyDependsOnTheTokenizerAndTheFields) {
  const std::string in = Write("key.jsonl", kChat);
  auto a = PreparationKey(in, kChatml, {}, false);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->size(), 16u);
  DatasetOptions renamed;
  renamed.messages_field = "conversations";
  EXPECT_NE(*PreparationKey(in, kChatml, renamed, false), *a);
  EXPECT_NE(
      *PreparationKey(in, std::string(ZEROD_SOURCE_DIR) + "/tests/fixtures/sft/llama3", {}, false),
      *a);
  EXPECT_EQ(*PreparationKey(in, kChatml, {}, false), *a);
}

TEST(DatasetPrepTest, UnwritableFolderUsesTheCacheDir) {
  if (::geteuid() == 0) GTEST_SKIP() << "root writes anywhere";
  const std::string dir = ::testing::TempDir() + "/dataset_prep_ro";
  ::mkdir(dir.c_str(), 0755);
  const std::string in = dir + "/ro.jsonl";
  std::ofstream(in) << kChat;
  ::chmod(dir.c_str(), 0555);
  EXPECT_EQ(PrepareCached(in, kChatml, {}).status().code(), absl::StatusCode::kPermissionDenied);
  auto p = PrepareCached(in, kChatml, {}, ::testing::TempDir() + "/dataset_prep_cache");
  ::chmod(dir.c_str(), 0755);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->path.rfind(::testing::TempDir() + "/dataset_prep_cache/ro.jsonl.zerod-", 0), 0u);
}

}  // namespace
}  // namespace zerod::data
