// A model's chat template, and conversations rendered through it with the bytes each
// assistant message produced: the loss mask of conversational fine-tuning data. The face of
// engine/chat/ (template.h is the language underneath, and lists what it supports).
//
// Rendering matches transformers' `tokenizer.apply_chat_template(messages, tokenize=False)`
// byte for byte: the same variables (messages, tools, documents, add_generation_prompt, the
// tokenizer's bos/eos/unk/sep/pad/cls/mask tokens, the caller's extra kwargs such as
// enable_thinking), the same message clean-up (keys whose value is null are dropped; the
// reasoning is copied to `thinking` and `reasoning_content`, as transformers 5 does).
//
// Note [assistant spans]
// ~~~~~~~~~~~~~~~~~~~~~~
// transformers marks what to train on only for templates that wrap the assistant's text in
// `{% generation %}...{% endgeneration %}`; few real templates do. zerod finds the same bytes
// in any template, without markers (a `{% generation %}` present is a plain block):
//   1. The conversation is rendered once, and each iteration of the template's loop over
//      `messages` (any loop whose item is one of the messages: `messages[1:]`,
//      `loop_messages`, a reversed copy...) records the output bytes it wrote. An assistant
//      message's bytes are those of its (first non-empty) iteration: its header, content,
//      reasoning, tool calls and end-of-turn token.
//   2. The header is the part the model does not generate: the generation prompt. The
//      messages before it are rendered with add_generation_prompt true and false; the
//      header is the shortest start of the turn that the prompted render ends with and
//      that covers what the prompt adds (e.g. "<|im_start|>assistant\n"; Phi-3's
//      "<|assistant|>\n" where the unprompted render ends in "<|endoftext|>"). Where the
//      turn does not start so (Qwen3's empty think block with enable_thinking false, before
//      a turn that has none), the prompt is cut back line by line until the turn starts
//      with it (chat_template.cpp, HeaderLength).
//   3. Whitespace at the end of the iteration (the newline after "<|im_end|>") is not
//      generated, and is left out: the span ends at the end-of-turn token.
// So for ChatML `<|im_start|>assistant\nHELLO<|im_end|>\n` the span is `HELLO<|im_end|>`,
// which is what the generation-marker version of the template marks (tested against
// transformers on the fixtures' template families). It works where a template rewrites
// earlier turns (Qwen3 drops past reasoning), since only the full rendering's own bytes are
// used. It fails, with an error naming the message, where an assistant message is rendered
// outside a loop over messages, or inside a macro or set block that loops over them.
// Cost: 2 extra renders of a prefix per assistant message.
#pragma once

#include <cstddef>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/chat/template.h"
#include "nlohmann/json.hpp"

namespace zerod::chat {

struct ChatTemplate {
  // By name: "default", and "tool_use" where the tokenizer has one (used when tools are
  // given, as transformers does).
  std::map<std::string, Template> templates;
  // The tokenizer's named special tokens as strings, e.g. {"bos_token", "<s>"}.
  std::vector<std::pair<std::string, std::string>> special_tokens;
};

// From a model directory (or a hub name, models/model_dir.h): chat_template.jinja, else
// tokenizer_config.json's "chat_template" (a string, or a list of {name, template}); the
// special tokens from tokenizer_config.json (strings or {"content": ...}), else
// special_tokens_map.json. Errors name the file and what is wrong in it.
absl::StatusOr<ChatTemplate> LoadChatTemplate(const std::string& model_dir);

// From a template's text and a tokenizer_config.json's contents (tests, tools).
absl::StatusOr<ChatTemplate> MakeChatTemplate(const std::string& source, const std::string& origin,
                                              const nlohmann::ordered_json& tokenizer_config);

struct RenderOptions {
  nlohmann::ordered_json tools;      // a list of JSON schemas; null: none (the template sees none)
  nlohmann::ordered_json documents;  // a list of objects; null: none
  bool add_generation_prompt = false;  // of the rendered text (spans never include it)
  nlohmann::ordered_json extra =
      nlohmann::ordered_json::object();  // more variables: enable_thinking...
  std::optional<std::time_t> now;        // what strftime_now shows; unset: the current time
  RenderLimits limits;
};

// Bytes [begin, end) of RenderedChat::text that assistant message `message` produced.
struct ByteSpan {
  size_t begin = 0;
  size_t end = 0;
  size_t message = 0;  // index into the conversation's messages (prompt + completion)
};

struct RenderedChat {
  std::string text;
  // In the text's order, which is message order unless the template renders messages out
  // of order (a loop over messages[::-1]); the label mask walks them in this order.
  std::vector<ByteSpan> assistant_spans;
};

// `messages`: a JSON list of message objects (parse with ordered_json: dict order shows in
// tojson). Spans for every message whose role is "assistant" (Note [assistant spans]).
// Errors: the template's, with its file and line (a raise_exception's message as the
// template wrote it), or what is wrong with the input.
absl::StatusOr<RenderedChat> RenderConversation(const ChatTemplate& chat,
                                                const nlohmann::ordered_json& messages,
                                                const RenderOptions& options);

// A conversational prompt/completion pair, {"prompt": [messages], "completion": [messages]}:
// rendered as one conversation, with spans only for the completion's assistant messages.
absl::StatusOr<RenderedChat> RenderPromptCompletion(const ChatTemplate& chat,
                                                    const nlohmann::ordered_json& example,
                                                    const RenderOptions& options);

}  // namespace zerod::chat
