#include "engine/data/tokenizer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "nlohmann/json.hpp"

namespace zerod::data {
namespace {

// tests/fixtures/make_tokenizer_fixtures.py wrote these with the tokenizers library.
std::string FixtureDir(const std::string& kind) {
  return std::string(ZEROD_SOURCE_DIR) + "/tests/fixtures/tokenizers/" + kind;
}

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return nlohmann::json::parse(s.str());
}

class TokenizerFixtureTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerFixtureTest, EncodesLikeTheTokenizersLibrary) {
  auto tok = Tokenizer::FromFile(FixtureDir(GetParam()) + "/tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  const auto expected = ReadJson(FixtureDir(GetParam()) + "/expected.json");
  ASSERT_GT(expected["cases"].size(), 20u);
  for (const auto& c : expected["cases"]) {
    const std::string text = c["text"];
    std::vector<int32_t> ids;
    (*tok)->Encode(text, &ids);
    EXPECT_EQ(ids, c["ids"].get<std::vector<int32_t>>()) << "text: \"" << text << "\"";
  }
}

TEST_P(TokenizerFixtureTest, CachedWordsEncodeTheSameTheSecondTime) {
  auto tok = Tokenizer::FromFile(FixtureDir(GetParam()) + "/tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  const std::string text = "Hello world, hello world! Привет 123456";
  std::vector<int32_t> first, second;
  (*tok)->Encode(text, &first);
  (*tok)->Encode(text, &second);
  EXPECT_EQ(first, second);
}

INSTANTIATE_TEST_SUITE_P(Kinds, TokenizerFixtureTest,
                         ::testing::Values("gpt2", "gpt2_prefix_space", "llama3", "qwen2", "llama2",
                                           "metaspace", "llama2_no_fallback"));

TEST(TokenizerTest, VocabSizeCountsAddedTokens) {
  auto tok = Tokenizer::FromFile(FixtureDir("llama3") + "/tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status();
  EXPECT_EQ((*tok)->vocab_size(), 903);
  EXPECT_EQ((*tok)->TokenToId("<|eot_id|>"), 902);
  EXPECT_EQ((*tok)->TokenToId("no such token"), std::nullopt);
}

// The smallest valid file, edited by each error case below.
nlohmann::json MinimalTokenizer() {
  return nlohmann::json::parse(R"({
    "added_tokens": [],
    "normalizer": null,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
    "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}
  })");
}

std::string LoadError(const nlohmann::json& j) {
  auto tok = Tokenizer::FromJson(j.dump());
  return tok.ok() ? "(loaded)" : std::string(tok.status().message());
}

TEST(TokenizerTest, MinimalFileLoadsAndMerges) {
  auto tok = Tokenizer::FromJson(MinimalTokenizer().dump());
  ASSERT_TRUE(tok.ok()) << tok.status();
  std::vector<int32_t> ids;
  (*tok)->Encode("abba", &ids);
  EXPECT_EQ(ids, (std::vector<int32_t>{2, 1, 0}));
}

TEST(TokenizerTest, CorruptFilesAreClearErrors) {
  EXPECT_NE(Tokenizer::FromJson(R"({"model": {"type": "BPE", "vocab": {)")
                .status()
                .message()
                .find("not valid JSON"),
            std::string::npos);
  auto missing = Tokenizer::FromFile("/nonexistent/tokenizer.json");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("/nonexistent/tokenizer.json"), std::string::npos);

  auto j = MinimalTokenizer();
  j["model"]["merges"] = {"a c"};
  EXPECT_NE(LoadError(j).find("model.merges[0] is \"a c\"; \"c\" is not in model.vocab"),
            std::string::npos)
      << LoadError(j);
  j = MinimalTokenizer();
  j["model"]["vocab"]["a"] = "zero";
  EXPECT_NE(LoadError(j).find("model.vocab[\"a\"]"), std::string::npos) << LoadError(j);
  j = MinimalTokenizer();
  j["added_tokens"] = {{{"content", 5}}};
  EXPECT_NE(LoadError(j).find("added_tokens[0]"), std::string::npos) << LoadError(j);
  j = MinimalTokenizer();
  j["model"]["unk_token"] = "<unk>";
  EXPECT_NE(LoadError(j).find("model.unk_token is \"<unk>\"; it is not in model.vocab"),
            std::string::npos)
      << LoadError(j);
}

TEST(TokenizerTest, UnsupportedComponentsNameTheFieldAndValue) {
  auto j = MinimalTokenizer();
  j["model"]["type"] = "WordPiece";
  EXPECT_NE(LoadError(j).find("model.type is \"WordPiece\""), std::string::npos) << LoadError(j);
  j = MinimalTokenizer();
  j["model"]["type"] = "Unigram";
  EXPECT_NE(LoadError(j).find("model.type is \"Unigram\""), std::string::npos) << LoadError(j);
  j = MinimalTokenizer();
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", {{{"type", "NFKC"}}}}};
  EXPECT_NE(LoadError(j).find("normalizer.normalizers[0].type is \"NFKC\""), std::string::npos)
      << LoadError(j);
  j = MinimalTokenizer();
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"Regex", "\\w+"}}}, {"behavior", "Isolated"}}}}};
  EXPECT_NE(LoadError(j).find("pre_tokenizer.pretokenizers[0].pattern.Regex is the regex \"\\w+\""),
            std::string::npos)
      << LoadError(j);
  j = MinimalTokenizer();
  j["pre_tokenizer"] = {{"type", "Whitespace"}};
  EXPECT_NE(LoadError(j).find("pre_tokenizer.type is \"Whitespace\""), std::string::npos)
      << LoadError(j);
  j = MinimalTokenizer();
  j["model"]["dropout"] = 0.1;
  EXPECT_NE(LoadError(j).find("model.dropout is 0.1"), std::string::npos) << LoadError(j);
  j = MinimalTokenizer();
  j["model"]["continuing_subword_prefix"] = "##";
  EXPECT_NE(LoadError(j).find("model.continuing_subword_prefix is \"##\""), std::string::npos)
      << LoadError(j);
}

}  // namespace
}  // namespace zerod::data
