// A chat template: the Jinja2 subset that Hugging Face chat templates are written in,
// parsed once and rendered with transformers' environment (ImmutableSandboxedEnvironment,
// trim_blocks, lstrip_blocks, loopcontrols; its tojson, raise_exception, strftime_now,
// namespace and dict). The chat layer (chat_template.h) is what the rest of zerod calls.
//
// Supported:
//   Tags     {{ }}, {% %}, {# #} with `-` and `+` whitespace control; {% raw %}.
//   Blocks   for (one name or `k, v` unpacking; `if` filter; else; loop.index, index0,
//            revindex, revindex0, first, last, length, previtem, nextitem, depth),
//            break/continue, if/elif/else, set (`x = e`, `ns.attr = e`, set blocks),
//            macro (positional and keyword parameters with defaults; no caller/varargs),
//            generation (transformers' marker: rendered as a plain block).
//   Literals strings (Python escapes), ints, floats, true/false/none (and True/False/None),
//            lists, tuples (as lists), dicts.
//   Operators + - * / // % ** ~, == != < > <= >=, in, not in, and, or, not,
//            `a if c else b`, x.attr, x[k], slices x[a:b:c], calls, filters, `is` tests.
//   Filters  abs attr capitalize count d default e escape first float indent int items join
//            last length list lower map max min reject rejectattr replace reverse round safe
//            select selectattr sort string sum title tojson trim unique upper wordcount.
//   Tests    boolean callable defined divisibleby eq equalto escaped even false float ge gt
//            greaterthan in integer iterable le lower lt lessthan mapping ne none number odd
//            sameas sequence string true undefined upper (and == != < > <= >=).
//   Methods  str: strip lstrip rstrip split rsplit splitlines startswith endswith replace
//            upper lower title capitalize find rfind count join format isdigit isalpha
//            isalnum isspace isupper islower; dict: get items keys values; list: index count.
//   Globals  range, namespace, dict, raise_exception, strftime_now.
// Undefined behaves as Jinja2's default Undefined: prints empty, is false, iterates empty,
// `is defined` false; an attribute, item, call or arithmetic on it fails the render.
//
// Not supported, refused when parsed (or, for calls, when reached) with the template's
// name and line: include, extends, import, block, call, filter blocks, with, do, recursive
// loops, tuple assignment, *args, string % formatting, loop.cycle, macro caller/varargs,
// format specs in str.format. Python's tuples print as lists, ints are 64-bit, case
// mapping is ASCII-only.
//
// Bounds (RenderLimits) keep any template, hostile or broken, from running away: output
// size, loop iterations plus macro calls, macro call depth; value sizes are bounded in
// builtins.h, nesting depth in parser.h.
#pragma once

#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/chat/value.h"

namespace zerod::chat {

struct ParsedTemplate;

struct RenderLimits {
  size_t max_output_bytes = size_t{64} << 20;
  int64_t max_steps = 10'000'000;  // loop iterations plus macro calls
  int max_call_depth = 64;         // macros calling macros
};

// One iteration of a loop over traced items (the conversation's messages): the bytes of
// the top-level output it wrote. Only iterations that write to the top level (not inside
// a macro or a set block) and that are not nested in another traced iteration are kept.
struct IterationTrace {
  const void* item;  // the Dict of the item (a message)
  size_t begin = 0;
  size_t end = 0;
};

struct RenderRequest {
  const Dict* variables = nullptr;  // what the template sees: messages, bos_token, ...
  std::time_t now = 0;              // what strftime_now formats
  RenderLimits limits;
  // Items whose iterations to trace (Dict pointers), and where to put them; may be null.
  const absl::flat_hash_set<const void*>* traced_items = nullptr;
  std::vector<IterationTrace>* trace = nullptr;
};

class Template {
 public:
  // Parses `source`; `origin` (the file name) prefixes every error, with the line.
  static absl::StatusOr<Template> Parse(absl::string_view source, std::string origin);

  // Renders; an error names the origin and line, and raise_exception's message comes
  // through as it is (with builtins.h's kRaisedPayload set). Thread-safe.
  absl::StatusOr<std::string> Render(const RenderRequest& request) const;

  const std::string& origin() const;

 private:
  explicit Template(std::shared_ptr<const ParsedTemplate> parsed) : parsed_(std::move(parsed)) {}
  std::shared_ptr<const ParsedTemplate> parsed_;
};

}  // namespace zerod::chat
