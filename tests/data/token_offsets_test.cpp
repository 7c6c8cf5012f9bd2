// Tokenizer::EncodeWithOffsets: the ids are Encode's, and each token's bytes are the text's,
// through byte-level BPE, Llama-2's Prepend/Replace normalizer with byte fallback, Metaspace,
// added tokens, and <unk>.
#include <fstream>

#include "engine/data/tokenizer.h"
#include "gtest/gtest.h"

namespace zerod::data {
namespace {

std::unique_ptr<Tokenizer> Load(const std::string& name) {
  auto tok = Tokenizer::FromFile(std::string(ZEROD_SOURCE_DIR) + "/tests/fixtures/tokenizers/" +
                                 name + "/tokenizer.json");
  EXPECT_TRUE(tok.ok()) << tok.status();
  return tok.ok() ? std::move(*tok) : nullptr;
}

class TokenOffsetsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenOffsetsTest, SpansTileTheTextInOrderAndIdsAreEncodes) {
  auto tok = Load(GetParam());
  ASSERT_NE(tok, nullptr);
  for (const std::string text :
       {std::string("Hello world, this is a test."), std::string("  two  spaces\n\nand lines "),
        std::string("naïve café ☺ 12345"), std::string("<|eot_id|>x</s> y<s>"), std::string("")}) {
    std::vector<int32_t> plain, ids;
    std::vector<TokenSpan> spans;
    tok->Encode(text, &plain);
    ASSERT_TRUE(tok->EncodeWithOffsets(text, &ids, &spans).ok()) << text;
    EXPECT_EQ(ids, plain);
    ASSERT_EQ(spans.size(), ids.size());
    size_t pos = 0;
    for (const TokenSpan& s : spans) {
      EXPECT_GE(s.begin, pos) << text;
      EXPECT_LE(s.begin, s.end);
      EXPECT_LE(s.end, text.size());
      pos = s.end;
    }
    // Only whitespace (swallowed, or the spaces a normalizer adds) is outside every token.
    std::string covered(text.size(), ' ');
    for (const TokenSpan& s : spans)
      for (size_t i = s.begin; i < s.end; ++i) covered[i] = text[i];
    for (size_t i = 0; i < text.size(); ++i)
      if (covered[i] != text[i]) EXPECT_TRUE(text[i] == ' ') << GetParam() << ": " << text;
  }
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, TokenOffsetsTest,
                         ::testing::Values("gpt2", "gpt2_prefix_space", "llama2",
                                           "llama2_no_fallback", "llama3", "metaspace", "qwen2"));

TEST(TokenOffsetsTest, ByteLevelTokensSpellTheirBytes) {
  auto tok = Load("qwen2");
  const std::string text = "Hi<|eot_id|> café";
  std::vector<int32_t> ids;
  std::vector<TokenSpan> spans;
  ASSERT_TRUE(tok->EncodeWithOffsets(text, &ids, &spans).ok());
  const int32_t eot = *tok->TokenToId("<|eot_id|>");
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == eot)
      EXPECT_EQ(text.substr(spans[i].begin, spans[i].end - spans[i].begin), "<|eot_id|>");
  }
  EXPECT_EQ(spans.back().end, text.size());
}

TEST(TokenOffsetsTest, PrependedSpaceCoversNoByte) {
  auto tok = Load("llama2");  // Prepend "▁", Replace " " -> "▁"
  const std::string text = "Hello world";
  std::vector<int32_t> ids;
  std::vector<TokenSpan> spans;
  ASSERT_TRUE(tok->EncodeWithOffsets(text, &ids, &spans).ok());
  ASSERT_FALSE(spans.empty());
  EXPECT_EQ(spans.front().begin, 0u);
  EXPECT_EQ(spans.back().end, text.size());
}

TEST(TokenOffsetsTest, UnknownCharactersAreCoveredByUnk) {
  auto tok = Load("llama2_no_fallback");
  const std::string text = "a ☃ b";
  std::vector<int32_t> ids;
  std::vector<TokenSpan> spans;
  const absl::Status st = tok->EncodeWithOffsets(text, &ids, &spans);
  ASSERT_TRUE(st.ok()) << st;
  const auto unk = tok->TokenToId("<unk>");
  ASSERT_TRUE(unk.has_value());
  bool seen = false;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] != *unk) continue;
    seen = true;
    EXPECT_NE(text.substr(spans[i].begin, spans[i].end - spans[i].begin).find("☃"),
              std::string::npos);
  }
  EXPECT_TRUE(seen);
}

}  // namespace
}  // namespace zerod::data
