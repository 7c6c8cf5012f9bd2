// Samples against transformers' (tests/fixtures/make_sft_fixtures.py): for three tokenizer
// and chat template families (ChatML on a byte-level BPE, Llama-3 headers, Mistral [INST] on
// a Llama-2 byte-fallback BPE), the ids and trained flags of text, prompt-completion
// (TRL's masking), conversations (transformers' return_assistant_tokens_mask on the
// template's generation markers; zerod renders the copy without them) and conversational
// prompt-completion records.
#include <fstream>

#include "engine/data/dataset_format.h"
#include "gtest/gtest.h"

namespace zerod::data {
namespace {

using Json = nlohmann::ordered_json;

const std::string kDir = std::string(ZEROD_SOURCE_DIR) + "/tests/fixtures/sft";

Json Expected() {
  std::ifstream in(kDir + "/expected.json");
  return Json::parse(in);
}

struct Case {
  std::string model;
  DatasetFormat format;
  const char* key;
};

class SftFixtureTest : public ::testing::TestWithParam<Case> {};

TEST_P(SftFixtureTest, IdsAndTrainedFlagsMatchTransformers) {
  const Case& c = GetParam();
  const Json expected = Expected()[c.model];
  auto encoder = SampleEncoder::Create(kDir + "/" + c.model, c.format, {});
  ASSERT_TRUE(encoder.ok()) << encoder.status();
  EXPECT_EQ((*encoder)->eos_id(), expected["eos_id"].get<int32_t>());
  ASSERT_FALSE(expected[c.key].empty());
  for (const Json& e : expected[c.key]) {
    Record r;
    r.where = e.dump().substr(0, 60);
    r.value = Json::object();
    for (const char* field : {"text", "prompt", "completion", "messages"}) {
      if (e.contains(field)) r.value[field] = e[field];
    }
    std::vector<int32_t> tokens;
    std::vector<uint8_t> trained;
    ASSERT_TRUE((*encoder)->Encode(r, &tokens, &trained).ok()) << r.where;
    EXPECT_EQ(tokens, e["ids"].get<std::vector<int32_t>>()) << r.where;
    EXPECT_EQ(trained, e["trained"].get<std::vector<uint8_t>>()) << r.where;
  }
}

std::vector<Case> AllCases() {
  std::vector<Case> out;
  for (const char* model : {"chatml", "llama3", "mistral"}) {
    out.push_back({model, DatasetFormat::kText, "text"});
    out.push_back({model, DatasetFormat::kPromptCompletion, "prompt_completion"});
    out.push_back({model, DatasetFormat::kConversation, "conversation"});
    out.push_back({model, DatasetFormat::kChatPromptCompletion, "chat_prompt_completion"});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Families, SftFixtureTest, ::testing::ValuesIn(AllCases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.model + "_" + info.param.key;
                         });

}  // namespace
}  // namespace zerod::data
