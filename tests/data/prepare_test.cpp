#include "engine/data/prepare.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/util/files.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_env.h"

namespace zerod::data {
namespace {

using zerod::testing::TempDir;
using zerod::testing::WriteText;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A model directory with the fixture's tokenizer.json and the given config.json.
std::string MakeModelDir(const TempDir& dir, const std::string& kind, const std::string& config) {
  const std::string model = dir.File("model");
  (void)MakeDirectories(model);
  WriteText(model + "/tokenizer.json",
            ReadFile(std::string(ZEROD_SOURCE_DIR) + "/tests/fixtures/tokenizers/" + kind +
                     "/tokenizer.json"));
  if (!config.empty()) WriteText(model + "/config.json", config);
  return model;
}

std::vector<uint16_t> ReadTokens16(const std::string& path) {
  const std::string bytes = ReadFile(path);
  std::vector<uint16_t> tokens(bytes.size() / 2);
  std::memcpy(tokens.data(), bytes.data(), tokens.size() * 2);
  return tokens;
}

TEST(PrepareTest, JsonlDocumentsAreTheFixtureEncodingsEachFollowedByEos) {
  TempDir dir;
  const std::string model = MakeModelDir(dir, "llama3", R"({"eos_token_id": [900, 902]})");
  const auto expected = nlohmann::json::parse(ReadFile(
      std::string(ZEROD_SOURCE_DIR) + "/tests/fixtures/tokenizers/llama3/expected.json"))["cases"];
  std::string jsonl;
  std::vector<uint16_t> want;
  for (const auto& c : expected) {
    jsonl += nlohmann::json{{"text", c["text"]}, {"id", 7}}.dump() + "\n";
    for (int id : c["ids"]) want.push_back(static_cast<uint16_t>(id));
    want.push_back(900);  // the first of config.json's eos_token_id list
  }
  jsonl += "\n";  // a blank line is no document
  WriteText(dir.File("docs.jsonl"), jsonl);
  int calls = 0;
  PrepareProgress last;
  auto summary = PrepareTokenizedData({model, dir.File("docs.jsonl"), dir.File("out.bin")},
                                      [&](const PrepareProgress& p) { ++calls, last = p; });
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->documents, static_cast<int64_t>(expected.size()));
  EXPECT_EQ(summary->tokens, static_cast<int64_t>(want.size()));
  EXPECT_EQ(summary->dtype, TokenDType::kUInt16);
  EXPECT_EQ(summary->eos_id, 900);
  EXPECT_EQ(ReadTokens16(dir.File("out.bin")), want);
  EXPECT_GT(calls, 0);
  EXPECT_EQ(last.bytes_done, last.bytes_total);
  EXPECT_EQ(last.tokens, summary->tokens);
}

TEST(PrepareTest, TxtIsOneDocumentAndEosComesFromTokenizerConfig) {
  TempDir dir;
  const std::string model = MakeModelDir(dir, "llama2", "");
  WriteText(model + "/tokenizer_config.json",
            R"({"eos_token": {"content": "</s>", "special": true}})");
  const std::string text = "Hello world\n\nsecond paragraph\n";
  WriteText(dir.File("doc.txt"), text);
  auto tok = Tokenizer::FromFile(model + "/tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  std::vector<int32_t> ids;
  (*tok)->Encode(text, &ids);
  std::vector<uint16_t> want(ids.begin(), ids.end());
  want.push_back(2);  // </s>
  auto summary = PrepareTokenizedData({model, dir.File("doc.txt"), dir.File("out.bin")});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->documents, 1);
  EXPECT_EQ(ReadTokens16(dir.File("out.bin")), want);
}

TEST(PrepareTest, VocabulariesOver65536IdsWriteUint32) {
  TempDir dir;
  const std::string model = dir.File("model");
  (void)MakeDirectories(model);
  WriteText(model + "/tokenizer.json", R"({"added_tokens": [{"id": 70000, "content": "<eos>"}],
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": [["a", "b"]]}})");
  WriteText(model + "/tokenizer_config.json", R"({"eos_token": "<eos>"})");
  WriteText(dir.File("doc.txt"), "abba<eos>");
  auto summary = PrepareTokenizedData({model, dir.File("doc.txt"), dir.File("out.bin")});
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->dtype, TokenDType::kUInt32);
  const std::string bytes = ReadFile(dir.File("out.bin"));
  std::vector<uint32_t> tokens(bytes.size() / 4);
  std::memcpy(tokens.data(), bytes.data(), tokens.size() * 4);
  EXPECT_EQ(tokens, (std::vector<uint32_t>{2, 1, 0, 70000, 70000}));
}

TEST(PrepareTest, BadJsonlLinesNameTheLine) {
  TempDir dir;
  const std::string model = MakeModelDir(dir, "gpt2", R"({"eos_token_id": 0})");
  WriteText(dir.File("a.jsonl"), "{\"text\": \"ok\"}\nnot json\n");
  auto a = PrepareTokenizedData({model, dir.File("a.jsonl"), dir.File("out.bin")});
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.status().message().find("a.jsonl:2: not a JSON object"), std::string::npos)
      << a.status();
  WriteText(dir.File("b.jsonl"), "{\"text\": \"ok\"}\n\n{\"body\": \"no text\"}\n");
  auto b = PrepareTokenizedData({model, dir.File("b.jsonl"), dir.File("out.bin")});
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("b.jsonl:3: no \"text\" string field"), std::string::npos)
      << b.status();
}

TEST(PrepareTest, MissingEosIsAnErrorThatSaysWhereToPutIt) {
  TempDir dir;
  const std::string model = MakeModelDir(dir, "gpt2", R"({"model_type": "llama"})");
  WriteText(dir.File("doc.txt"), "text");
  auto s = PrepareTokenizedData({model, dir.File("doc.txt"), dir.File("out.bin")});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(s.status().message().find("eos_token_id"), std::string::npos) << s.status();
}

}  // namespace
}  // namespace zerod::data
