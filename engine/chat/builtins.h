// The library a chat template calls: Jinja2's filters (`x | length`) and tests
// (`x is string`), the Python methods a sandboxed template may call on strings, dicts and
// lists (`s.strip()`, `d.get(k)`), transformers' globals (raise_exception, strftime_now,
// namespace, dict, range) and its tojson (json.dumps with ensure_ascii=False). Each follows
// Jinja2 3.1 / Python 3 behaviour for the values chat templates see; what is not here is
// refused by name (the parser checks filter and test names, calls check the rest).
//
// Errors are plain messages; the renderer adds the template's name and line.
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/chat/value.h"

namespace zerod::chat {

using KwArgs = std::vector<std::pair<std::string, Value>>;

// Bounds that keep a hostile template from exhausting memory through values (output and
// loop counts are the renderer's).
inline constexpr size_t kMaxValueBytes = size_t{64} << 20;  // one string
inline constexpr size_t kMaxListItems = size_t{1} << 20;    // one list (also range())

bool IsKnownFilter(absl::string_view name);
bool IsKnownTest(absl::string_view name);

absl::StatusOr<Value> ApplyFilter(absl::string_view name, const Value& input, const List& args,
                                  const KwArgs& kwargs);
absl::StatusOr<bool> ApplyTest(absl::string_view name, const Value& input, const List& args);

// `obj.name` (Jinja2 tries the Python attribute, so a method, before the item) and
// `obj[key]` (the item first). Missing: Undefined carrying Jinja2's message.
Value GetAttr(const Value& obj, absl::string_view name);
absl::StatusOr<Value> GetItem(const Value& obj, const Value& key);

// Calls a bound method (Kind::kMethod) or a global function (Kind::kFunction). `now` is
// what strftime_now formats.
absl::StatusOr<Value> CallBuiltin(const Value& fn, const List& args, const KwArgs& kwargs,
                                  std::time_t now);
// The global functions a template may call by name (transformers' environment).
bool IsGlobalFunction(absl::string_view name);

// json.dumps(value, ensure_ascii, indent, separators, sort_keys) as transformers' tojson.
struct JsonStyle {
  bool ensure_ascii = false;
  std::string indent;   // the unit of indentation
  bool pretty = false;  // indent given (even 0: newlines)
  std::string item_sep = ", ";
  std::string key_sep = ": ";
  bool sort_keys = false;
};
absl::StatusOr<std::string> ToJson(const Value& v, const JsonStyle& style);

// The error a template raises through raise_exception(message): the message is the
// status message, with this payload so callers can tell it from a template bug.
inline constexpr absl::string_view kRaisedPayload = "zerod.chat.raise_exception";

// Python's slicing of a list or a string (code points); absent bounds are nullopt.
absl::StatusOr<Value> Slice(const Value& obj, const Value& start, const Value& stop,
                            const Value& step);

}  // namespace zerod::chat
