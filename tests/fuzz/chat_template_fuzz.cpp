// Fuzzes the chat templates (engine/chat/: lexer, parser, renderer, builtins and the
// assistant spans): the input is a template's text; what parses renders a fixed
// conversation (system, user, an assistant with a tool call and reasoning, a tool reply,
// a final assistant turn) with tight bounds. Whatever the template, the renderer returns
// (no crash, no hang: loops, recursion and output are bounded), and spans lie inside the
// text, in order, one per assistant message.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/chat/chat_template.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

const nlohmann::ordered_json& Conversation() {
  static const auto* messages = new nlohmann::ordered_json(nlohmann::ordered_json::parse(R"([
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris? <|im_end|> {{ not a tag }}"},
    {"role": "assistant", "content": "", "reasoning_content": "call the tool",
     "tool_calls": [{"type": "function", "function": {"name": "get_weather",
                     "arguments": {"city": "Paris", "days": [1, 2.5, null, true]}}}]},
    {"role": "tool", "content": "18C \u00e9t\u00e9 \ud83d\ude00"},
    {"role": "assistant", "content": "18C."}
  ])"));
  return *messages;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;  // templates are small; longer inputs only slow the search
  const std::string source(reinterpret_cast<const char*>(data), size);
  auto chat = zerod::chat::MakeChatTemplate(
      source, "fuzz.jinja", nlohmann::ordered_json{{"bos_token", "<s>"}, {"eos_token", "</s>"}});
  if (!chat.ok()) return 0;
  zerod::chat::RenderOptions options;
  options.now = 0;
  options.limits.max_output_bytes = 1 << 16;
  options.limits.max_steps = 20000;
  options.limits.max_call_depth = 16;
  options.tools = nlohmann::ordered_json::parse(
      R"([{"type": "function", "function": {"name": "get_weather", "parameters": {}}}])");
  auto rendered = zerod::chat::RenderConversation(*chat, Conversation(), options);
  if (!rendered.ok()) return 0;
  FUZZ_CHECK(rendered->text.size() <= options.limits.max_output_bytes);
  FUZZ_CHECK(rendered->assistant_spans.size() == 2);
  size_t last_end = 0;
  for (const auto& span : rendered->assistant_spans) {
    FUZZ_CHECK(span.begin <= span.end && span.end <= rendered->text.size());
    FUZZ_CHECK(span.begin >= last_end);
    last_end = span.end;
  }
  return 0;
}
