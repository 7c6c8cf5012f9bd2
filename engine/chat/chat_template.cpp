// chat_template.h: loading a model's chat template, and rendering conversations with the
// assistant messages' byte spans (Note [assistant spans]).
#include "engine/chat/chat_template.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/models/model_dir.h"
#include "engine/util/files.h"
#include "engine/util/status_macros.h"

namespace zerod::chat {
namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kSpecialTokens[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                          "pad_token", "cls_token", "mask_token"};

absl::StatusOr<Json> ReadJson(const std::string& path) {
  std::optional<std::string> text = ReadFileToString(path);
  if (!text) return absl::NotFoundError(path);
  Json j = Json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, ": not valid JSON"));
  return j;
}

// The special tokens as transformers' special_tokens_map gives them: strings, or the
// content of an AddedToken object.
void AddSpecialTokens(const Json& config, ChatTemplate* chat) {
  if (!config.is_object()) return;
  for (const char* key : kSpecialTokens) {
    auto it = config.find(key);
    if (it == config.end()) continue;
    auto have = std::find_if(chat->special_tokens.begin(), chat->special_tokens.end(),
                             [&](const auto& kv) { return kv.first == key; });
    if (have != chat->special_tokens.end()) continue;
    if (it->is_string()) {
      chat->special_tokens.emplace_back(key, it->get<std::string>());
    } else if (it->is_object() && it->contains("content") && (*it)["content"].is_string()) {
      chat->special_tokens.emplace_back(key, (*it)["content"].get<std::string>());
    }
  }
}

// Transformers' message clean-up (chat_template.h): nulls dropped, reasoning aliased.
absl::StatusOr<Value> PrepareMessage(const Json& m, size_t index) {
  if (!m.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("message ", index, " is not a JSON object: ", m.dump().substr(0, 80)));
  }
  Dict d;
  for (const auto& [k, v] : m.items()) {
    if (!v.is_null()) d.Set(k, FromJson(v));
  }
  const Value* reasoning = nullptr;
  for (const char* key : {"reasoning_content", "thinking", "reasoning"}) {
    if ((reasoning = d.Find(key)) != nullptr) break;
  }
  if (reasoning == nullptr) return Value::MakeDict(std::move(d));
  Value r = *reasoning;
  Dict aliased;
  aliased.Set("thinking", r);
  for (const auto& [k, v] : d.items()) aliased.Set(k, v);
  aliased.Set("reasoning_content", r);
  return Value::MakeDict(std::move(aliased));
}

struct Prepared {
  List messages;  // the message values (their Dicts are what the trace finds)
  std::vector<std::string> roles;
};

absl::StatusOr<Prepared> PrepareMessages(const Json& messages) {
  if (!messages.is_array()) return absl::InvalidArgumentError("the messages are not a JSON list");
  Prepared p;
  for (size_t i = 0; i < messages.size(); ++i) {
    ASSIGN_OR_RETURN(Value v, PrepareMessage(messages[i], i));
    const Value* role = v.dict->Find("role");
    p.roles.push_back(role != nullptr && role->is_string() ? role->s : "");
    p.messages.push_back(std::move(v));
  }
  return p;
}

class Session {
 public:
  Session(const ChatTemplate& chat, const RenderOptions& options)
      : chat_(chat), options_(options), now_(options.now.value_or(std::time(nullptr))) {}

  absl::StatusOr<const Template*> Pick() const {
    auto it = chat_.templates.end();
    if (!options_.tools.is_null()) it = chat_.templates.find("tool_use");
    if (it == chat_.templates.end()) it = chat_.templates.find("default");
    if (it == chat_.templates.end())
      return absl::NotFoundError("the model has no default chat template");
    return &it->second;
  }

  // Renders messages[0, n) (or all when n is the size), tracing the message loop.
  absl::StatusOr<std::string> Render(const List& messages, size_t n, bool add_generation_prompt,
                                     std::vector<IterationTrace>* trace) const {
    ASSIGN_OR_RETURN(const Template* t, Pick());
    Dict vars;
    for (const auto& [k, v] : chat_.special_tokens) vars.Set(k, Value::String(v));
    List prefix(messages.begin(), messages.begin() + n);
    absl::flat_hash_set<const void*> traced;
    for (const Value& m : prefix) traced.insert(m.dict.get());
    vars.Set("messages", Value::MakeList(std::move(prefix)));
    vars.Set("tools", FromJson(options_.tools));
    vars.Set("documents", FromJson(options_.documents));
    vars.Set("add_generation_prompt", Value::Bool(add_generation_prompt));
    if (options_.extra.is_object()) {
      for (const auto& [k, v] : options_.extra.items()) vars.Set(k, FromJson(v));
    }
    RenderRequest req;
    req.variables = &vars;
    req.now = now_;
    req.limits = options_.limits;
    req.traced_items = &traced;
    req.trace = trace;
    return t->Render(req);
  }

 private:
  const ChatTemplate& chat_;
  const RenderOptions& options_;
  std::time_t now_;
};

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

size_t CommonPrefix(absl::string_view a, absl::string_view b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  // Never split a UTF-8 character.
  while (n > 0 && n < a.size() && (static_cast<unsigned char>(a[n]) & 0xC0) == 0x80) --n;
  return n;
}

// Step 2 of Note [assistant spans]: how much of an assistant turn is its header, given
// the messages before it rendered with and without the generation prompt. The header is
// the shortest start of the turn that the prompted render ends with and that covers all
// the prompted render adds (Phi-3's "<|assistant|>\n" where the unprompted render ends in
// "<|endoftext|>": the two share "<|", yet the header is the whole tag). Where the turn
// does not start that way (Qwen3's "<think>\n\n</think>\n\n" with enable_thinking
// false, before a turn without a think block), the added part is cut back line by line,
// so that a cut never falls inside a token; else their common prefix.
size_t HeaderLength(absl::string_view turn, absl::string_view with, absl::string_view without) {
  const absl::string_view added = with.substr(CommonPrefix(with, without));
  // The prompted render's trailing whitespace may be the template's own (a newline after a
  // `}}`), not the header's: match without it, then take as much of it as the turn has.
  absl::string_view trimmed = with;
  while (!trimmed.empty() && IsSpace(trimmed.back())) trimmed.remove_suffix(1);
  const absl::string_view trailing = with.substr(trimmed.size());
  const size_t added_kept = added.size() > trailing.size() ? added.size() - trailing.size() : 0;
  const size_t longest = std::min({turn.size(), trimmed.size(), size_t{4096}});
  for (size_t k = added_kept; k <= longest; ++k) {
    if (!absl::EndsWith(trimmed, turn.substr(0, k))) continue;
    size_t n = 0;
    while (n < trailing.size() && k + n < turn.size() && turn[k + n] == trailing[n]) ++n;
    return k + n;
  }
  absl::string_view g = added;
  while (!g.empty()) {
    if (absl::StartsWith(turn, g)) return g.size();
    size_t nl = g.substr(0, g.size() - 1).rfind('\n');
    if (nl == absl::string_view::npos) break;
    g = g.substr(0, nl + 1);
  }
  return CommonPrefix(turn, added);
}

absl::StatusOr<RenderedChat> RenderWithSpans(const ChatTemplate& chat, const Json& messages,
                                             size_t first_trained, const RenderOptions& options) {
  ASSIGN_OR_RETURN(Prepared p, PrepareMessages(messages));
  if (p.messages.empty()) return absl::InvalidArgumentError("the conversation has no messages");
  Session s(chat, options);
  std::vector<IterationTrace> trace;
  RenderedChat out;
  ASSIGN_OR_RETURN(out.text,
                   s.Render(p.messages, p.messages.size(), options.add_generation_prompt, &trace));
  for (size_t i = first_trained; i < p.messages.size(); ++i) {
    if (p.roles[i] != "assistant") continue;
    auto it = std::find_if(trace.begin(), trace.end(), [&](const IterationTrace& t) {
      return t.item == p.messages[i].dict.get() && t.end > t.begin;
    });
    if (it == trace.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "assistant message ", i,
          " is not rendered by an iteration of the template's loop over "
          "messages, so its bytes cannot be found (chat_template.h, Note [assistant spans])"));
    }
    absl::string_view turn = absl::string_view(out.text).substr(it->begin, it->end - it->begin);
    auto with = s.Render(p.messages, i, true, nullptr);
    auto without = with.ok() ? s.Render(p.messages, i, false, nullptr) : with;
    if (!without.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the generation prompt before assistant message ", i,
          " (the header to leave out of its span) failed to render: ", without.status().message()));
    }
    const size_t skip = HeaderLength(turn, *with, *without);
    size_t end = turn.size();
    while (end > skip && IsSpace(turn[end - 1])) {
      --end;
    }
    out.assistant_spans.push_back({it->begin + skip, it->begin + end, i});
  }
  // Each message's bytes come from one iteration of the loop: the spans never overlap.
  std::sort(out.assistant_spans.begin(), out.assistant_spans.end(),
            [](const ByteSpan& a, const ByteSpan& b) { return a.begin < b.begin; });
  return out;
}

}  // namespace

absl::StatusOr<ChatTemplate> MakeChatTemplate(const std::string& source, const std::string& origin,
                                              const Json& tokenizer_config) {
  ChatTemplate chat;
  ASSIGN_OR_RETURN(Template t, Template::Parse(source, origin));
  chat.templates.emplace("default", std::move(t));
  AddSpecialTokens(tokenizer_config, &chat);
  return chat;
}

absl::StatusOr<ChatTemplate> LoadChatTemplate(const std::string& model_dir) {
  ASSIGN_OR_RETURN(std::string dir, models::ResolveModelDir(model_dir));
  const std::string config_path = JoinPath(dir, "tokenizer_config.json");
  Json config = Json::object();
  if (ReadFileToString(config_path)) {
    ASSIGN_OR_RETURN(config, ReadJson(config_path));
  }
  ChatTemplate chat;
  const std::string jinja_path = JoinPath(dir, "chat_template.jinja");
  if (std::optional<std::string> text = ReadFileToString(jinja_path)) {
    ASSIGN_OR_RETURN(Template t, Template::Parse(*text, jinja_path));
    chat.templates.emplace("default", std::move(t));
  } else if (config.is_object() && config.contains("chat_template")) {
    const Json& ct = config["chat_template"];
    if (ct.is_string()) {
      ASSIGN_OR_RETURN(Template t,
                       Template::Parse(ct.get<std::string>(), config_path + " (chat_template)"));
      chat.templates.emplace("default", std::move(t));
    } else if (ct.is_array()) {
      for (const Json& entry : ct) {
        if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() ||
            !entry.contains("template") || !entry["template"].is_string()) {
          return absl::InvalidArgumentError(
              absl::StrCat(config_path,
                           ": chat_template: each entry of the list needs a \"name\" and a "
                           "\"template\" string"));
        }
        std::string name = entry["name"].get<std::string>();
        ASSIGN_OR_RETURN(Template t, Template::Parse(entry["template"].get<std::string>(),
                                                     absl::StrCat(config_path, " (chat_template \"",
                                                                  name, "\")")));
        chat.templates.emplace(name, std::move(t));
      }
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(config_path, ": chat_template is neither a string nor a list"));
    }
  }
  if (chat.templates.find("default") == chat.templates.end()) {
    return absl::NotFoundError(absl::StrCat(
        dir,
        " has no default chat template: neither chat_template.jinja nor a \"chat_template\" in "
        "tokenizer_config.json (a base model? give its instruct version's template, or train on "
        "plain text)"));
  }
  AddSpecialTokens(config, &chat);
  const std::string map_path = JoinPath(dir, "special_tokens_map.json");
  if (ReadFileToString(map_path)) {
    ASSIGN_OR_RETURN(Json map, ReadJson(map_path));
    AddSpecialTokens(map, &chat);
  }
  return chat;
}

absl::StatusOr<RenderedChat> RenderConversation(const ChatTemplate& chat, const Json& messages,
                                                const RenderOptions& options) {
  return RenderWithSpans(chat, messages, 0, options);
}

absl::StatusOr<RenderedChat> RenderPromptCompletion(const ChatTemplate& chat, const Json& example,
                                                    const RenderOptions& options) {
  if (!example.is_object() || !example.contains("prompt") || !example.contains("completion") ||
      !example["prompt"].is_array() || !example["completion"].is_array()) {
    return absl::InvalidArgumentError(
        "a conversational prompt/completion example needs \"prompt\" and \"completion\" lists of "
        "messages");
  }
  Json all = example["prompt"];
  for (const Json& m : example["completion"]) all.push_back(m);
  return RenderWithSpans(chat, all, example["prompt"].size(), options);
}

}  // namespace zerod::chat
