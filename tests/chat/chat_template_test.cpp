// The chat layer (engine/chat/chat_template.h): loading a model directory's template and
// special tokens, transformers' message clean-up, the assistant spans of prompt/completion
// pairs, and the errors where spans cannot be found.
#include "engine/chat/chat_template.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "engine/chat/builtins.h"
#include "gtest/gtest.h"

namespace zerod::chat {
namespace {

using Json = nlohmann::ordered_json;

constexpr char kChatml[] =
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

std::string MakeModelDir(const std::string& name) {
  std::string dir = testing::TempDir() + "/chat_" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void Write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

TEST(ChatLayer, LoadsChatTemplateJinjaAndAddedTokenDicts) {
  std::string dir = MakeModelDir("jinja");
  Write(dir + "/chat_template.jinja", "{{ bos_token }}|{{ eos_token }}|{{ pad_token is defined }}");
  Write(dir + "/tokenizer_config.json",
        R"({"bos_token": {"__type": "AddedToken", "content": "<s>"}, "eos_token": "</s>",
            "pad_token": null, "chat_template": "ignored: the .jinja file wins"})");
  auto chat = LoadChatTemplate(dir);
  ASSERT_TRUE(chat.ok()) << chat.status();
  auto out = RenderConversation(*chat, Json::parse(R"([{"role": "user", "content": "x"}])"), {});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->text, "<s>|</s>|False");
}

TEST(ChatLayer, PicksToolUseTemplateWhenToolsAreGiven) {
  std::string dir = MakeModelDir("named");
  Write(dir + "/tokenizer_config.json",
        R"({"chat_template": [{"name": "default", "template": "plain"},
                              {"name": "tool_use", "template": "tools: {{ tools | length }}"}]})");
  auto chat = LoadChatTemplate(dir);
  ASSERT_TRUE(chat.ok()) << chat.status();
  Json messages = Json::parse(R"([{"role": "user", "content": "x"}])");
  EXPECT_EQ(RenderConversation(*chat, messages, {})->text, "plain");
  RenderOptions options;
  options.tools = Json::parse(R"([{"type": "function", "function": {"name": "f"}}])");
  EXPECT_EQ(RenderConversation(*chat, messages, options)->text, "tools: 1");
}

TEST(ChatLayer, ModelWithoutTemplateIsAnErrorSayingWhere) {
  std::string dir = MakeModelDir("none");
  Write(dir + "/tokenizer_config.json", R"({"eos_token": "</s>"})");
  auto chat = LoadChatTemplate(dir);
  ASSERT_FALSE(chat.ok());
  EXPECT_NE(chat.status().message().find("no default chat template"), std::string::npos);
}

TEST(ChatLayer, TemplateErrorsNameTheTokenizerConfig) {
  std::string dir = MakeModelDir("bad");
  Write(dir + "/tokenizer_config.json", R"({"chat_template": "line 1\n{% include 'x' %}"})");
  auto chat = LoadChatTemplate(dir);
  ASSERT_FALSE(chat.ok());
  EXPECT_NE(chat.status().message().find("tokenizer_config.json (chat_template):2:"),
            std::string::npos)
      << chat.status();
}

TEST(ChatLayer, NullKeysAreDroppedAndReasoningAliasedAsTransformersDoes) {
  auto chat = MakeChatTemplate(
      "{% for m in messages %}{{ m.content is defined }} {{ m.thinking }} "
      "{{ m.reasoning_content }} {{ m | tojson }}{% endfor %}",
      "t.jinja", Json::object());
  ASSERT_TRUE(chat.ok()) << chat.status();
  auto out = RenderConversation(
      *chat, Json::parse(R"([{"role": "assistant", "content": null, "reasoning": "hmm"}])"), {});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->text,
            R"(False hmm hmm {"thinking": "hmm", "role": "assistant", "reasoning": "hmm", )"
            R"("reasoning_content": "hmm"})");
}

TEST(ChatLayer, ChatmlSpanCoversContentAndEndToken) {
  auto chat = MakeChatTemplate(kChatml, "t.jinja", Json::object());
  ASSERT_TRUE(chat.ok()) << chat.status();
  auto out = RenderConversation(*chat, Json::parse(R"([{"role": "user", "content": "hi"},
                                                        {"role": "assistant", "content": "HELLO"}])"),
                                {});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->assistant_spans.size(), 1u);
  const ByteSpan& s = out->assistant_spans[0];
  EXPECT_EQ(out->text.substr(s.begin, s.end - s.begin), "HELLO<|im_end|>");
  EXPECT_EQ(s.message, 1u);
}

// A template that renders the messages newest first (found by the chat_template fuzzer):
// the spans come in the text's order, each still naming its message, so the label mask
// (which walks them in order) marks both.
TEST(ChatLayer, SpansOfMessagesRenderedOutOfOrderComeInTextOrder) {
  auto chat = MakeChatTemplate(
      "{% for m in messages[::-1] %}[{{ m.role }}]{{ m.content }};{% endfor %}", "t.jinja",
      Json::object());
  ASSERT_TRUE(chat.ok()) << chat.status();
  auto out = RenderConversation(*chat, Json::parse(R"([{"role": "user", "content": "q1"},
                                                        {"role": "assistant", "content": "A1"},
                                                        {"role": "user", "content": "q2"},
                                                        {"role": "assistant", "content": "A2"}])"),
                                {});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->assistant_spans.size(), 2u);
  const ByteSpan& first = out->assistant_spans[0];
  const ByteSpan& second = out->assistant_spans[1];
  EXPECT_LE(first.end, second.begin);
  EXPECT_EQ(first.message, 3u);
  EXPECT_EQ(second.message, 1u);
  EXPECT_NE(out->text.substr(first.begin, first.end - first.begin).find("A2"), std::string::npos);
  EXPECT_NE(out->text.substr(second.begin, second.end - second.begin).find("A1"),
            std::string::npos);
}

TEST(ChatLayer, PromptCompletionTrainsOnlyTheCompletion) {
  auto chat = MakeChatTemplate(kChatml, "t.jinja", Json::object());
  ASSERT_TRUE(chat.ok()) << chat.status();
  Json example = Json::parse(R"({"prompt": [{"role": "user", "content": "a"},
                                            {"role": "assistant", "content": "b"},
                                            {"role": "user", "content": "c"}],
                                 "completion": [{"role": "assistant", "content": "d"}]})");
  auto out = RenderPromptCompletion(*chat, example, {});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->assistant_spans.size(), 1u);
  const ByteSpan& s = out->assistant_spans[0];
  EXPECT_EQ(s.message, 3u);
  EXPECT_EQ(out->text.substr(s.begin, s.end - s.begin), "d<|im_end|>");
  EXPECT_FALSE(RenderPromptCompletion(*chat, Json::parse(R"({"prompt": "text"})"), {}).ok());
}

TEST(ChatLayer, AssistantRenderedOutsideTheMessageLoopIsAnError) {
  auto chat = MakeChatTemplate("{{ messages[0].content }}{{ messages[1].content }}", "t.jinja",
                               Json::object());
  ASSERT_TRUE(chat.ok()) << chat.status();
  auto out = RenderConversation(*chat, Json::parse(R"([{"role": "user", "content": "a"},
                                                        {"role": "assistant", "content": "b"}])"),
                                {});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("assistant message 1"), std::string::npos) << out.status();
}

TEST(ChatLayer, RaiseExceptionReachesTheCaller) {
  auto chat = MakeChatTemplate(
      "{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('no tools here') }}"
      "{% endif %}{% endfor %}",
      "t.jinja", Json::object());
  ASSERT_TRUE(chat.ok()) << chat.status();
  auto out = RenderConversation(*chat, Json::parse(R"([{"role": "tool", "content": "a"}])"), {});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("no tools here"), std::string::npos);
  EXPECT_TRUE(out.status().GetPayload(kRaisedPayload).has_value());
}

TEST(ChatLayer, MessagesMustBeAListOfObjects) {
  auto chat = MakeChatTemplate(kChatml, "t.jinja", Json::object());
  ASSERT_TRUE(chat.ok()) << chat.status();
  EXPECT_FALSE(RenderConversation(*chat, Json::parse(R"({"role": "user"})"), {}).ok());
  auto out = RenderConversation(*chat, Json::parse(R"([{"role": "user", "content": "a"}, 3])"), {});
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.status().message().find("message 1 is not a JSON object"), std::string::npos);
}

}  // namespace
}  // namespace zerod::chat
