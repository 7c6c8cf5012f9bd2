#include "engine/data/added_tokens.h"

#include "engine/data/unicode.h"

namespace zerod::data {
namespace {

// The code point that ends at `end` (text[..end] is valid UTF-8 up to there).
char32_t LastCodePoint(std::string_view text, size_t end) {
  size_t start = end - 1;
  while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
  return DecodeUtf8(text, &start);
}

}  // namespace

void AddedTokenMatcher::Add(std::string pattern, const AddedToken& token) {
  if (pattern.empty()) return;  // tokenizers ignores empty added tokens
  by_first_byte_[static_cast<unsigned char>(pattern[0])].push_back(
      static_cast<int>(patterns_.size()));
  patterns_.push_back({std::move(pattern), token});
}

void AddedTokenMatcher::Split(std::string_view text, std::vector<Segment>* segments) const {
  if (text.empty()) {
    segments->push_back({0, 0, -1});
    return;
  }
  size_t start_offset = 0;  // end of the last segment pushed
  size_t search = 0;        // where the next leftmost-longest search begins
  while (search < text.size()) {
    // Leftmost-longest: the first position where any pattern matches, the longest there.
    const Pattern* hit = nullptr;
    size_t at = search;
    for (; at < text.size() && hit == nullptr; ++at) {
      for (int idx : by_first_byte_[static_cast<unsigned char>(text[at])]) {
        const Pattern& p = patterns_[idx];
        if (text.compare(at, p.text.size(), p.text) == 0 &&
            (hit == nullptr || p.text.size() > hit->text.size()))
          hit = &p;
      }
    }
    if (hit == nullptr) break;
    size_t start = at - 1;
    size_t stop = start + hit->text.size();
    search = stop;
    const AddedToken& tok = hit->token;
    if (tok.single_word) {
      const bool word_before = start > 0 && IsWordChar(LastCodePoint(text, start));
      size_t pos = stop;
      const bool word_after = stop < text.size() && IsWordChar(DecodeUtf8(text, &pos));
      if (word_before || word_after) continue;  // not a word of its own: no match
    }
    if (tok.lstrip) {
      size_t s = start;
      while (s > 0) {
        size_t p = s - 1;
        while (p > 0 && (static_cast<unsigned char>(text[p]) & 0xC0) == 0x80) --p;
        size_t q = p;
        if (!IsWhitespace(DecodeUtf8(text, &q))) break;
        s = p;
      }
      // Whitespace an earlier segment already took stays with it.
      start = std::max(s, start_offset);
    }
    if (tok.rstrip) {
      size_t pos = stop;
      while (pos < text.size()) {
        size_t next = pos;
        if (!IsWhitespace(DecodeUtf8(text, &next))) break;
        pos = next;
      }
      stop = pos;
    }
    if (start_offset < start) segments->push_back({start_offset, start, -1});
    segments->push_back({start, stop, tok.id});
    start_offset = stop;
  }
  if (start_offset != text.size()) segments->push_back({start_offset, text.size(), -1});
}

}  // namespace zerod::data
