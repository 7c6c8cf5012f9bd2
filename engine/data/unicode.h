// The few Unicode facts the tokenizer needs: UTF-8 decoding, the character classes of the
// pre-tokenizer patterns (\p{L}, \p{N}, \s) and the \w of added tokens' single_word. The
// class tables are generated (scripts/gen_unicode_tables.py -> unicode_tables.cpp); this is
// no general Unicode library: no normalization, no case mapping.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace zerod::data {

struct CodeRange {
  char32_t lo, hi;  // inclusive
};

// Decodes the code point at text[*pos] and advances *pos past it. A byte that does not start
// a valid UTF-8 sequence decodes as U+FFFD and advances by one, so scanning never stalls;
// the bytes themselves stay in the text (byte-level BPE still sees them).
char32_t DecodeUtf8(std::string_view text, size_t* pos);
// Appends the UTF-8 encoding of `cp` to *out.
void AppendUtf8(char32_t cp, std::string* out);

bool IsLetter(char32_t cp);      // General_Category L*
bool IsNumber(char32_t cp);      // General_Category N*
bool IsWhitespace(char32_t cp);  // U+0009..U+000D, U+0085, Z* (= White_Space)
bool IsWordChar(char32_t cp);    // Rust regex's \w: Alphabetic, M*, Nd, Pc, Join_Control

}  // namespace zerod::data
