// Python's string operations that templates use, on UTF-8 text: strip with or without a
// character set, replace with a count, title(), capitalize(), Jinja2's title filter.
// Case mapping is ASCII-only (chat templates apply it to role names and keywords).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/strings/string_view.h"

namespace zerod::chat {

// Python's str.isspace() for one ASCII byte (also \x1c-\x1f, as Python counts them).
bool IsPySpace(char c);
// str.strip/lstrip/rstrip: whitespace, or the code points of `chars`.
std::string PyStrip(absl::string_view s, const std::optional<std::string>& chars, bool left,
                    bool right);
// str.replace(old, new, count); count < 0: all.
std::string PyReplace(absl::string_view s, absl::string_view from, absl::string_view to,
                      int64_t count);
std::string AsciiUpper(absl::string_view s);
std::string AsciiLower(absl::string_view s);
// str.title(): a letter after a non-letter is upper-cased, any other lower-cased.
std::string PyTitle(absl::string_view s);
// Jinja2's title filter: words begin after whitespace, '-', '(', '{', '[' or '<'.
std::string JinjaTitle(absl::string_view s);
// str.capitalize(): the first character upper-cased, the rest lower-cased.
std::string Capitalize(absl::string_view s);
// str.count(needle): non-overlapping occurrences (an empty needle: code points + 1).
int64_t CountOccurrences(absl::string_view s, absl::string_view needle);

}  // namespace zerod::chat
