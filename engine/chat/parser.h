// Parses a chat template (lexer.h's tokens) into its tree (ast.h). Anything outside the
// supported subset (template.h lists it) is refused here, naming the construct and its
// line: `{% include %}`, `{% extends %}`, `{% call %}`, `{% filter %}`, unknown filters and
// tests, ... so a template either renders as transformers renders it or fails to load.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/chat/ast.h"

namespace zerod::chat {

struct ParsedTemplate {
  std::string origin;  // the file it came from, for errors
  Body body;
};

// Nesting deeper than this (blocks in blocks, or brackets in an expression) is refused:
// the parser and renderer recurse, and a hostile template must not exhaust the stack.
inline constexpr int kMaxNesting = 100;

absl::StatusOr<std::shared_ptr<const ParsedTemplate>> Parse(absl::string_view source,
                                                            std::string origin);

}  // namespace zerod::chat
