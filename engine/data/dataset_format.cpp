#include "engine/data/dataset_format.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/data/prepare.h"
#include "engine/util/files.h"

namespace zerod::data {
namespace {

using Json = nlohmann::ordered_json;

// The roles TRL's datasets and the chat templates know.
constexpr const char* kRoles[] = {"system", "user", "assistant", "tool", "developer"};

// The offset of the first byte that breaks UTF-8 (overlong forms, surrogates and code
// points past U+10FFFF included), or npos.
size_t FirstBadUtf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    char32_t cp = 0, min = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return i;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return i;
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (d & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += n + 1;
  }
  return std::string_view::npos;
}

absl::Status FieldError(const Record& r, absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(r.where, ": field ", field, ": ", what));
}

std::string Quoted(absl::string_view name) { return absl::StrCat("\"", name, "\""); }

// record[name] as a UTF-8 string.
absl::StatusOr<const std::string*> StringField(const Record& r, const std::string& name) {
  const std::string field = Quoted(name);
  if (!r.value.contains(name)) return FieldError(r, field, "missing");
  const Json& v = r.value[name];
  if (!v.is_string())
    return FieldError(r, field, absl::StrCat("is ", v.type_name(), ", expected a string"));
  const std::string& s = v.get_ref<const std::string&>();
  if (size_t bad = FirstBadUtf8(s); bad != std::string_view::npos)
    return FieldError(r, field, absl::StrCat("is not UTF-8 text (byte ", bad, ")"));
  return &s;
}

// A list of messages as TRL's conversational datasets hold them.
absl::Status CheckMessages(const Record& r, const std::string& name, bool may_be_empty = false) {
  const std::string field = Quoted(name);
  if (!r.value.contains(name)) return FieldError(r, field, "missing");
  const Json& list = r.value[name];
  if (!list.is_array())
    return FieldError(r, field,
                      absl::StrCat("is ", list.type_name(), ", expected a list of messages"));
  if (list.empty() && !may_be_empty) return FieldError(r, field, "is an empty conversation");
  for (size_t i = 0; i < list.size(); ++i) {
    const Json& m = list[i];
    const std::string at = absl::StrCat(field, "[", i, "]");
    if (!m.is_object())
      return FieldError(r, at,
                        absl::StrCat("is ", m.type_name(), ", expected {\"role\", \"content\"}"));
    if (!m.contains("role") || !m["role"].is_string())
      return FieldError(r, at + ".role", m.contains("role") ? "is not a string" : "missing");
    const std::string& role = m["role"].get_ref<const std::string&>();
    if (std::find(std::begin(kRoles), std::end(kRoles), role) == std::end(kRoles))
      return FieldError(
          r, at + ".role",
          absl::StrCat("is \"", role, "\"; expected one of ", absl::StrJoin(kRoles, ", ")));
    // An assistant turn that only calls tools may have no content (OpenAI's format).
    const bool calls = m.contains("tool_calls") && !m["tool_calls"].is_null();
    if (!m.contains("content") || m["content"].is_null()) {
      if (calls) continue;
      return FieldError(r, at + ".content", "missing");
    }
    if (!m["content"].is_string())
      return FieldError(r, at + ".content",
                        absl::StrCat("is ", m["content"].type_name(),
                                     ", expected a string (zerod trains on text only)"));
    const std::string& s = m["content"].get_ref<const std::string&>();
    if (size_t bad = FirstBadUtf8(s); bad != std::string_view::npos)
      return FieldError(r, at + ".content", absl::StrCat("is not UTF-8 text (byte ", bad, ")"));
  }
  return absl::OkStatus();
}

// Marks tokens that overlap a span (both lists in text order); an empty token (an inserted
// space) counts where it sits.
void MarkSpans(const std::vector<TokenSpan>& tokens, const std::vector<chat::ByteSpan>& spans,
               std::vector<uint8_t>* trained) {
  trained->assign(tokens.size(), 0);
  size_t s = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const size_t end = std::max(tokens[i].end, tokens[i].begin + 1);
    while (s < spans.size() && spans[s].end <= tokens[i].begin) ++s;
    if (s < spans.size() && spans[s].begin < end && tokens[i].begin < spans[s].end)
      (*trained)[i] = 1;
  }
}

}  // namespace

const char* FormatName(DatasetFormat format) {
  switch (format) {
    case DatasetFormat::kText:
      return "text";
    case DatasetFormat::kPromptCompletion:
      return "prompt-completion";
    case DatasetFormat::kConversation:
      return "conversation";
    case DatasetFormat::kChatPromptCompletion:
      return "conversational prompt-completion";
  }
  return "?";
}

absl::StatusOr<DatasetFormat> DetectFormat(const Record& first, const DatasetOptions& o) {
  const Json& v = first.value;
  if (v.contains(o.prompt_field) && v.contains(o.completion_field)) {
    const bool lists = v[o.prompt_field].is_array() && v[o.completion_field].is_array();
    return lists ? DatasetFormat::kChatPromptCompletion : DatasetFormat::kPromptCompletion;
  }
  if (v.contains(o.messages_field)) return DatasetFormat::kConversation;
  if (v.contains(o.text_field)) return DatasetFormat::kText;
  std::vector<std::string> keys;
  for (const auto& [k, unused] : v.items()) keys.push_back(Quoted(k));
  return absl::InvalidArgumentError(absl::StrCat(
      first.where, ": not a dataset format zerod knows: it has ", absl::StrJoin(keys, ", "),
      "; expected ", Quoted(o.text_field), " (text), ", Quoted(o.prompt_field), " and ",
      Quoted(o.completion_field), " (prompt-completion) or ", Quoted(o.messages_field),
      " (conversation); name other columns with --text-field, --prompt-field, "
      "--completion-field or --messages-field"));
}

SampleEncoder::SampleEncoder(std::unique_ptr<Tokenizer> tokenizer, int32_t eos_id,
                             std::optional<chat::ChatTemplate> chat, DatasetFormat format,
                             DatasetOptions options)
    : tokenizer_(std::move(tokenizer)),
      eos_id_(eos_id),
      chat_(std::move(chat)),
      format_(format),
      options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<SampleEncoder>> SampleEncoder::Create(
    const std::string& model_dir, DatasetFormat format, const DatasetOptions& options) {
  auto tokenizer = Tokenizer::FromFile(JoinPath(model_dir, "tokenizer.json"));
  if (!tokenizer.ok()) return tokenizer.status();
  auto eos = EosTokenId(model_dir, **tokenizer);
  if (!eos.ok()) return eos.status();
  std::optional<chat::ChatTemplate> chat;
  if (format == DatasetFormat::kConversation || format == DatasetFormat::kChatPromptCompletion) {
    auto loaded = chat::LoadChatTemplate(model_dir);
    if (!loaded.ok())
      return absl::Status(loaded.status().code(),
                          absl::StrCat("a conversational dataset needs the model's chat template: ",
                                       loaded.status().message()));
    chat = std::move(*loaded);
  }
  return std::make_unique<SampleEncoder>(std::move(*tokenizer), *eos, std::move(chat), format,
                                         options);
}

absl::Status SampleEncoder::Encode(const Record& record, std::vector<int32_t>* tokens,
                                   std::vector<uint8_t>* trained) {
  tokens->clear();
  trained->clear();
  switch (format_) {
    case DatasetFormat::kText: {
      auto text = StringField(record, options_.text_field);
      if (!text.ok()) return text.status();
      tokenizer_->Encode(**text, tokens);
      tokens->push_back(eos_id_);
      trained->assign(tokens->size(), 1);
      return absl::OkStatus();
    }
    case DatasetFormat::kPromptCompletion: {
      auto prompt = StringField(record, options_.prompt_field);
      if (!prompt.ok()) return prompt.status();
      auto completion = StringField(record, options_.completion_field);
      if (!completion.ok()) return completion.status();
      // As TRL's SFTTrainer (trl/trainer/sft_trainer.py, tokenize for prompt-completion):
      // the ids are those of prompt + completion tokenized together, and the first
      // len(tokenize(prompt)) of them are the prompt (not trained), so a token the two
      // share across the seam counts as prompt. TRL appends EOS to the completion; zerod
      // appends its id. Unlike TRL, no BOS: zerod encodes without special tokens, as for
      // pre-training text.
      std::vector<int32_t> prompt_ids;
      tokenizer_->Encode(**prompt, &prompt_ids);
      tokenizer_->Encode(absl::StrCat(**prompt, **completion), tokens);
      tokens->push_back(eos_id_);
      trained->assign(tokens->size(), 1);
      if (!options_.train_on_all)
        std::fill_n(trained->begin(), std::min(prompt_ids.size(), tokens->size() - 1), 0);
      return absl::OkStatus();
    }
    case DatasetFormat::kConversation:
    case DatasetFormat::kChatPromptCompletion:
      return EncodeConversation(record, tokens, trained);
  }
  return absl::InternalError("unknown dataset format");
}

absl::Status SampleEncoder::EncodeConversation(const Record& record, std::vector<int32_t>* tokens,
                                               std::vector<uint8_t>* trained) {
  chat::RenderOptions render;
  // TRL passes a record's "tools" to the template too.
  if (record.value.contains("tools") && !record.value["tools"].is_null()) {
    if (!record.value["tools"].is_array())
      return FieldError(record, "\"tools\"", "is not a list of JSON schemas");
    render.tools = record.value["tools"];
  }
  absl::StatusOr<chat::RenderedChat> rendered;
  std::string field;
  if (format_ == DatasetFormat::kConversation) {
    field = Quoted(options_.messages_field);
    if (auto s = CheckMessages(record, options_.messages_field); !s.ok()) return s;
    rendered = chat::RenderConversation(*chat_, record.value[options_.messages_field], render);
  } else {
    field = absl::StrCat(Quoted(options_.prompt_field), " + ", Quoted(options_.completion_field));
    if (auto s = CheckMessages(record, options_.prompt_field, /*may_be_empty=*/true); !s.ok())
      return s;
    if (auto s = CheckMessages(record, options_.completion_field); !s.ok()) return s;
    Json example = Json::object();
    example["prompt"] = record.value[options_.prompt_field];
    example["completion"] = record.value[options_.completion_field];
    rendered = chat::RenderPromptCompletion(*chat_, example, render);
  }
  if (!rendered.ok())
    return FieldError(record, field,
                      absl::StrCat("the chat template failed: ", rendered.status().message()));
  spans_.clear();
  if (auto s = tokenizer_->EncodeWithOffsets(rendered->text, tokens, &spans_); !s.ok())
    return FieldError(record, field, s.message());
  if (options_.train_on_all) {
    trained->assign(tokens->size(), 1);
  } else {
    MarkSpans(spans_, rendered->assistant_spans, trained);
  }
  return absl::OkStatus();
}

}  // namespace zerod::data
