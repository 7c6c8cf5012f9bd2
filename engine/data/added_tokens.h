// Added tokens (tokenizer.json's "added_tokens": special tokens such as <|endoftext|> and
// user-added words). tokenizers finds them before the model runs: tokens with
// normalized=false in the raw text, tokens with normalized=true in the normalized text, each
// time leftmost-longest, with single_word, lstrip and rstrip applied to every match.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace zerod::data {

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool single_word = false;  // only where no word character touches either end
  bool lstrip = false;       // the match swallows the whitespace on its left
  bool rstrip = false;       // ... and on its right
  bool normalized = true;    // matched in the normalized text instead of the raw text
  bool special = false;      // decoding only; encoding matches special and plain alike
};

// A stretch of text: an added token (id >= 0) or text for the model (id < 0).
struct Segment {
  size_t begin, end;  // byte offsets
  int32_t id;
};

// Finds one set of added tokens in text.
class AddedTokenMatcher {
 public:
  // `pattern` is what is searched for (the content, or the normalized content).
  void Add(std::string pattern, const AddedToken& token);
  bool empty() const { return patterns_.empty(); }

  // Segments that tile `text` in order (one empty model segment for empty text), as
  // tokenizers' AddedVocabulary::find_matches cuts it.
  void Split(std::string_view text, std::vector<Segment>* segments) const;

 private:
  struct Pattern {
    std::string text;
    AddedToken token;
  };
  std::vector<Pattern> patterns_;
  std::vector<int> by_first_byte_[256];  // indices into patterns_, by the first byte
};

}  // namespace zerod::data
