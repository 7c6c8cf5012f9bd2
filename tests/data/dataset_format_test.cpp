// TRL's dataset formats: detection from the first record, the field options, train_on_all,
// and every error naming the record and the field.
#include "engine/data/dataset_format.h"

#include "gtest/gtest.h"

namespace zerod::data {
namespace {

using Json = nlohmann::ordered_json;

const std::string kChatml = std::string(ZEROD_SOURCE_DIR) + "/tests/fixtures/sft/chatml";
const std::string kMistral = std::string(ZEROD_SOURCE_DIR) + "/tests/fixtures/sft/mistral";

Record R(const std::string& json) { return {Json::parse(json), "data.jsonl:7"}; }

DatasetFormat Detect(const std::string& json, const DatasetOptions& o = {}) {
  auto f = DetectFormat(R(json), o);
  EXPECT_TRUE(f.ok()) << f.status();
  return f.value_or(DatasetFormat::kText);
}

TEST(DatasetFormatTest, FormatIsToldAsTrlTellsIt) {
  EXPECT_EQ(Detect(R"({"text": "a"})"), DatasetFormat::kText);
  EXPECT_EQ(Detect(R"({"prompt": "a", "completion": "b"})"), DatasetFormat::kPromptCompletion);
  EXPECT_EQ(Detect(R"({"messages": []})"), DatasetFormat::kConversation);
  EXPECT_EQ(Detect(R"({"prompt": [], "completion": []})"), DatasetFormat::kChatPromptCompletion);
  // Prompt and completion win over text, as in TRL (it looks for "prompt" first).
  EXPECT_EQ(Detect(R"({"text": "t", "prompt": "a", "completion": "b"})"),
            DatasetFormat::kPromptCompletion);
}

TEST(DatasetFormatTest, FieldNamesAreOptions) {
  DatasetOptions o;
  o.text_field = "content";
  EXPECT_EQ(Detect(R"({"content": "a"})", o), DatasetFormat::kText);
  o.messages_field = "conversations";
  EXPECT_EQ(Detect(R"({"conversations": []})", o), DatasetFormat::kConversation);
  o.prompt_field = "instruction";
  o.completion_field = "output";
  EXPECT_EQ(Detect(R"({"instruction": "a", "output": "b"})", o), DatasetFormat::kPromptCompletion);
}

TEST(DatasetFormatTest, UnknownRecordNamesItsKeysAndTheFlags) {
  auto f = DetectFormat(R(R"({"question": "a", "answer": "b"})"), {});
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("data.jsonl:7: not a dataset format"), std::string::npos);
  EXPECT_NE(f.status().message().find("\"question\", \"answer\""), std::string::npos);
  EXPECT_NE(f.status().message().find("--prompt-field"), std::string::npos);
}

// The message of encoding `json` in `format` with the ChatML fixture.
std::string EncodeError(DatasetFormat format, const std::string& json,
                        const std::string& model = kChatml) {
  auto encoder = SampleEncoder::Create(model, format, {});
  EXPECT_TRUE(encoder.ok()) << encoder.status();
  if (!encoder.ok()) return "";
  std::vector<int32_t> tokens;
  std::vector<uint8_t> trained;
  const absl::Status s = (*encoder)->Encode(R(json), &tokens, &trained);
  EXPECT_FALSE(s.ok()) << json;
  return std::string(s.message());
}

TEST(DatasetFormatTest, MissingFieldIsNamed) {
  EXPECT_EQ(EncodeError(DatasetFormat::kText, R"({"body": "a"})"),
            "data.jsonl:7: field \"text\": missing");
  EXPECT_EQ(EncodeError(DatasetFormat::kPromptCompletion, R"({"prompt": "a"})"),
            "data.jsonl:7: field \"completion\": missing");
}

TEST(DatasetFormatTest, WrongTypeIsNamed) {
  EXPECT_EQ(EncodeError(DatasetFormat::kText, R"({"text": 3})"),
            "data.jsonl:7: field \"text\": is number, expected a string");
  EXPECT_EQ(EncodeError(DatasetFormat::kConversation, R"({"messages": "hi"})"),
            "data.jsonl:7: field \"messages\": is string, expected a list of messages");
  EXPECT_EQ(EncodeError(DatasetFormat::kConversation,
                        R"({"messages": [{"role": "user", "content": [{"type": "text"}]}]})"),
            "data.jsonl:7: field \"messages\"[0].content: is array, expected a string (zerod "
            "trains on text only)");
}

TEST(DatasetFormatTest, UnknownRoleIsNamed) {
  EXPECT_EQ(EncodeError(DatasetFormat::kConversation,
                        R"({"messages": [{"role": "user", "content": "a"},
                                         {"role": "bot", "content": "b"}]})"),
            "data.jsonl:7: field \"messages\"[1].role: is \"bot\"; expected one of system, user, "
            "assistant, tool, developer");
}

TEST(DatasetFormatTest, EmptyConversationIsAnError) {
  EXPECT_EQ(EncodeError(DatasetFormat::kConversation, R"({"messages": []})"),
            "data.jsonl:7: field \"messages\": is an empty conversation");
  EXPECT_EQ(
      EncodeError(DatasetFormat::kChatPromptCompletion, R"({"prompt": [], "completion": []})"),
      "data.jsonl:7: field \"completion\": is an empty conversation");
}

TEST(DatasetFormatTest, MissingContentIsNamedUnlessTheTurnCallsTools) {
  EXPECT_EQ(EncodeError(DatasetFormat::kConversation, R"({"messages": [{"role": "user"}]})"),
            "data.jsonl:7: field \"messages\"[0].content: missing");
}

TEST(DatasetFormatTest, NonUtf8TextIsNamed) {
  Record r;
  r.where = "data.csv: row 2 (line 3)";
  r.value = Json::object();
  r.value["text"] = std::string("caf\xE9");
  auto encoder = SampleEncoder::Create(kChatml, DatasetFormat::kText, {});
  ASSERT_TRUE(encoder.ok());
  std::vector<int32_t> tokens;
  std::vector<uint8_t> trained;
  const absl::Status s = (*encoder)->Encode(r, &tokens, &trained);
  EXPECT_EQ(s.message(), "data.csv: row 2 (line 3): field \"text\": is not UTF-8 text (byte 3)");
}

TEST(DatasetFormatTest, TemplateRaiseIsReportedWithItsMessage) {
  // Mistral's template allows user, assistant and tool only.
  const std::string m = EncodeError(DatasetFormat::kConversation,
                                    R"({"messages": [{"role": "user", "content": "a"},
                                                     {"role": "developer", "content": "b"}]})",
                                    kMistral);
  EXPECT_NE(m.find("data.jsonl:7: field \"messages\": the chat template failed"), std::string::npos)
      << m;
  EXPECT_NE(m.find("Only user, assistant and tool roles are supported, got developer."),
            std::string::npos)
      << m;
}

TEST(DatasetFormatTest, SpecialTokensInRenderedTextBecomeTheirIds) {
  auto encoder = SampleEncoder::Create(kChatml, DatasetFormat::kConversation, {});
  ASSERT_TRUE(encoder.ok());
  std::vector<int32_t> tokens;
  std::vector<uint8_t> trained;
  ASSERT_TRUE(
      (*encoder)
          ->Encode(R(R"({"messages": [{"role": "user", "content": "a"}]})"), &tokens, &trained)
          .ok());
  const int32_t im_start = *(*encoder)->tokenizer().TokenToId("<|im_start|>");
  const int32_t im_end = *(*encoder)->tokenizer().TokenToId("<|im_end|>");
  ASSERT_FALSE(tokens.empty());
  EXPECT_EQ(tokens.front(), im_start);
  EXPECT_NE(std::find(tokens.begin(), tokens.end(), im_end), tokens.end());
  EXPECT_EQ(std::count(trained.begin(), trained.end(), 1), 0);  // no assistant message
}

TEST(DatasetFormatTest, TrainOnAllTrainsPromptsAndUserTurns) {
  DatasetOptions o;
  o.train_on_all = true;
  for (auto [format, json] :
       {std::pair{DatasetFormat::kPromptCompletion, R"({"prompt": "a b", "completion": "c"})"},
        std::pair{DatasetFormat::kConversation,
                  R"({"messages": [{"role": "user", "content": "a"},
                                   {"role": "assistant", "content": "b"}]})"}}) {
    auto encoder = SampleEncoder::Create(kChatml, format, o);
    ASSERT_TRUE(encoder.ok());
    std::vector<int32_t> tokens;
    std::vector<uint8_t> trained;
    ASSERT_TRUE((*encoder)->Encode(R(json), &tokens, &trained).ok());
    EXPECT_EQ(trained, std::vector<uint8_t>(tokens.size(), 1)) << json;
  }
}

TEST(DatasetFormatTest, ToolsOfARecordReachTheTemplate) {
  auto encoder = SampleEncoder::Create(kChatml, DatasetFormat::kConversation, {});
  ASSERT_TRUE(encoder.ok());
  std::vector<int32_t> with, without;
  std::vector<uint8_t> trained;
  const std::string msgs = R"("messages": [{"role": "user", "content": "a"}])";
  ASSERT_TRUE((*encoder)->Encode(R("{" + msgs + "}"), &without, &trained).ok());
  ASSERT_TRUE((*encoder)
                  ->Encode(R("{" + msgs + R"(, "tools": [{"type": "function", "function":
                               {"name": "f", "parameters": {}}}]})"),
                           &with, &trained)
                  .ok());
  EXPECT_GT(with.size(), without.size());
}

TEST(DatasetFormatTest, ConversationalDatasetWithoutATemplateIsRefused) {
  // The llama3 tokenizer fixture directory has no chat template.
  auto encoder =
      SampleEncoder::Create(std::string(ZEROD_SOURCE_DIR) + "/tests/fixtures/tokenizers/llama3",
                            DatasetFormat::kConversation, {});
  EXPECT_FALSE(encoder.ok());
}

}  // namespace
}  // namespace zerod::data
