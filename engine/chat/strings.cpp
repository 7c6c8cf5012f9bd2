// strings.h: Python's string operations on UTF-8 text.
#include "engine/chat/strings.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/chat/value.h"

namespace zerod::chat {

bool IsPySpace(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

std::string PyStrip(absl::string_view s, const std::optional<std::string>& chars, bool left,
                    bool right) {
  std::vector<absl::string_view> cps = CodePoints(s);
  std::vector<absl::string_view> set;
  if (chars) set = CodePoints(*chars);
  auto strip_it = [&](absl::string_view cp) {
    if (!chars) return cp.size() == 1 && IsPySpace(cp[0]);
    return std::find(set.begin(), set.end(), cp) != set.end();
  };
  size_t lo = 0, hi = cps.size();
  if (left) {
    while (lo < hi && strip_it(cps[lo])) ++lo;
  }
  if (right) {
    while (hi > lo && strip_it(cps[hi - 1])) --hi;
  }
  std::string out;
  for (size_t i = lo; i < hi; ++i) absl::StrAppend(&out, cps[i]);
  return out;
}

std::string PyReplace(absl::string_view s, absl::string_view from, absl::string_view to,
                      int64_t count) {
  std::string out;
  if (from.empty()) {  // Python inserts `to` around every code point
    int64_t n = 0;
    for (absl::string_view cp : CodePoints(s)) {
      if (count < 0 || n < count) {
        absl::StrAppend(&out, to);
        ++n;
      }
      absl::StrAppend(&out, cp);
    }
    if (count < 0 || n < count) absl::StrAppend(&out, to);
    return out;
  }
  size_t pos = 0;
  int64_t n = 0;
  while (count < 0 || n < count) {
    size_t at = s.find(from, pos);
    if (at == absl::string_view::npos) break;
    absl::StrAppend(&out, s.substr(pos, at - pos));
    absl::StrAppend(&out, to);
    pos = at + from.size();
    ++n;
  }
  absl::StrAppend(&out, s.substr(pos));
  return out;
}

std::string AsciiUpper(absl::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = char(c - 'a' + 'A');
  }
  return out;
}

std::string AsciiLower(absl::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
  }
  return out;
}

namespace {
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char Upper(char c) { return (c >= 'a' && c <= 'z') ? char(c - 'a' + 'A') : c; }
char Lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c; }
}  // namespace

std::string PyTitle(absl::string_view s) {
  std::string out(s);
  bool prev_cased = false;
  for (char& c : out) {
    if (IsAlpha(c)) {
      c = prev_cased ? Lower(c) : Upper(c);
      prev_cased = true;
    } else {
      // Non-ASCII bytes (letters of other scripts) are kept and count as cased, as
      // Python's letters would; digits and punctuation start a new word.
      prev_cased = static_cast<unsigned char>(c) >= 0x80;
    }
  }
  return out;
}

std::string JinjaTitle(absl::string_view s) {
  std::string out(s);
  bool word_start = true;
  for (char& c : out) {
    bool delim = IsPySpace(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
    if (delim) {
      word_start = true;
      continue;
    }
    c = word_start ? Upper(c) : Lower(c);
    word_start = false;
  }
  return out;
}

std::string Capitalize(absl::string_view s) {
  std::string out = AsciiLower(s);
  if (!out.empty()) out[0] = Upper(out[0]);
  return out;
}

int64_t CountOccurrences(absl::string_view s, absl::string_view needle) {
  if (needle.empty()) return int64_t(CodePoints(s).size()) + 1;
  int64_t n = 0;
  for (size_t pos = s.find(needle); pos != absl::string_view::npos;
       pos = s.find(needle, pos + needle.size())) {
    ++n;
  }
  return n;
}

}  // namespace zerod::chat
