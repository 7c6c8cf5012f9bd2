// Splits a chat template's text into tokens: literal text, the delimiters of `{{ }}` and
// `{% %}` tags, and the expression tokens inside them. Comments `{# #}` and `{% raw %}`
// blocks are resolved here, and so is whitespace control, as transformers' Jinja2
// environment does it: trim_blocks (the first newline after a block tag or comment is
// dropped), lstrip_blocks (spaces and tabs before a block tag or comment at the start of
// a line are dropped), `-` on a delimiter strips all whitespace on that side, `+` turns the
// two settings off for that side.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace zerod::chat {

enum class Tok {
  kText,
  kVarBegin,
  kVarEnd,
  kBlockBegin,
  kBlockEnd,
  kName,
  kString,
  kInt,
  kFloat,
  kOp,
  kEof
};

struct Token {
  Tok type;
  int line = 1;
  std::string text;  // kText, kName, kString (unescaped), kOp
  int64_t i = 0;     // kInt
  double f = 0;      // kFloat
};

// `origin` names the template (its file) in errors: "chat_template.jinja:12: ...".
absl::StatusOr<std::vector<Token>> Lex(absl::string_view source, absl::string_view origin);

}  // namespace zerod::chat
