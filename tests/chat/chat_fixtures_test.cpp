// engine/chat/ against transformers: tests/fixtures/chat_fixtures.json, written by
// tests/fixtures/make_chat_fixtures.py through transformers' own Jinja2 environment.
// Every language case renders to the same bytes (or fails where Jinja2 fails), and every
// conversation of the five template families renders to the same text with the same
// assistant spans as the templates' {% generation %} markers give in transformers.
#include <fstream>
#include <sstream>
#include <string>

#include "engine/chat/chat_template.h"
#include "engine/chat/template.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace zerod::chat {
namespace {

using Json = nlohmann::ordered_json;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const Json& Fixtures() {
  static const Json* fixtures = new Json(
      Json::parse(ReadFile(std::string(ZEROD_SOURCE_DIR) + "/tests/fixtures/chat_fixtures.json")));
  return *fixtures;
}

TEST(ChatFixtures, LanguageCasesRenderAsJinja2Does) {
  const Json& cases = Fixtures()["language"];
  ASSERT_GT(cases.size(), 50u);
  for (const Json& c : cases) {
    const std::string source = c["template"].get<std::string>();
    SCOPED_TRACE(source);
    absl::StatusOr<std::string> out;
    auto parsed = Template::Parse(source, "case");
    if (parsed.ok()) {
      Value vars = FromJson(c["vars"]);
      RenderRequest req;
      req.variables = vars.dict.get();
      out = parsed->Render(req);
    } else {
      out = parsed.status();
    }
    if (c.contains("error")) {
      EXPECT_FALSE(out.ok()) << "Jinja2 fails with " << c["error"] << ", zerod renders " << *out;
    } else {
      ASSERT_TRUE(out.ok()) << out.status();
      EXPECT_EQ(*out, c["output"].get<std::string>());
    }
  }
}

TEST(ChatFixtures, ConversationsMatchTransformersTextAndGenerationSpans) {
  const Json& cases = Fixtures()["conversations"];
  ASSERT_GT(cases.size(), 60u);
  for (const Json& c : cases) {
    const std::string file = c["template"].get<std::string>();
    SCOPED_TRACE(file + " " + c["case"].get<std::string>());
    const std::string path =
        std::string(ZEROD_SOURCE_DIR) + "/tests/fixtures/chat_templates/" + file;
    auto chat = MakeChatTemplate(ReadFile(path), file, c["special_tokens"]);
    ASSERT_TRUE(chat.ok()) << chat.status();
    RenderOptions options;
    options.tools = c["tools"];
    options.extra = c["extra"];
    auto rendered = RenderConversation(*chat, c["messages"], options);
    ASSERT_TRUE(rendered.ok()) << rendered.status();
    EXPECT_EQ(rendered->text, c["text"].get<std::string>());
    std::vector<std::pair<size_t, size_t>> spans, want;
    for (const ByteSpan& s : rendered->assistant_spans) spans.emplace_back(s.begin, s.end);
    for (const Json& s : c["spans"]) want.emplace_back(s[0].get<size_t>(), s[1].get<size_t>());
    EXPECT_EQ(spans, want);
    if (c.contains("text_with_generation_prompt")) {
      options.add_generation_prompt = true;
      Json first = Json::array({c["messages"][0]});
      auto prompt = RenderConversation(*chat, first, options);
      ASSERT_TRUE(prompt.ok()) << prompt.status();
      EXPECT_EQ(prompt->text, c["text_with_generation_prompt"].get<std::string>());
    }
  }
}

}  // namespace
}  // namespace zerod::chat
