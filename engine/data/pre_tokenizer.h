// The pre-tokenizers of tokenizer.json that zerod implements: they cut normalized text into
// the words BPE runs on. Regex splitting is limited to the patterns Hugging Face models ship
// (GPT-2's, Llama-3's and Qwen2's), each written as a hand-coded scanner over code points:
// zerod links no regex engine with \p{L}/\p{N}. Any other pattern or pre-tokenizer type is
// refused when the file is loaded, with the JSON field that names it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace zerod::data {

enum class SplitPattern {
  kGpt2,    // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
  kLlama3,  // (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|...
  kQwen2,   // Llama-3's with \p{N} (one digit) for \p{N}{1,3}
};

// The pattern whose regex source is exactly `regex`; InvalidArgument naming `field` else.
absl::StatusOr<SplitPattern> PatternFromRegex(std::string_view regex, std::string_view field);

// Appends to *pieces the consecutive matches of `pattern` in `text` (what the regex's
// find-iter returns; these patterns match every character, so the pieces tile the text).
void SplitByPattern(SplitPattern pattern, std::string_view text,
                    std::vector<std::string_view>* pieces);

// GPT-2's byte-to-unicode map applied to every byte: printable Latin-1 bytes stay themselves,
// the rest map to U+0100 and up, so every byte string becomes a printable token string.
std::string ByteLevelEncode(std::string_view bytes);

// One piece of text on its way to the model. `at_origin`: the piece starts at offset 0 of
// the original text (Metaspace's prepend_scheme "first" prepends only there).
struct TextPiece {
  std::string text;
  bool at_origin = false;
};

// A chain of pre-tokenizer steps read from tokenizer.json's "pre_tokenizer" (null = none).
class PreTokenizer {
 public:
  static absl::StatusOr<PreTokenizer> FromJson(const nlohmann::json& spec);

  // Splits `piece` into words, appended to *words in text order.
  void Split(TextPiece piece, std::vector<TextPiece>* words) const;
  // A ByteLevel step is in the chain: token strings spell bytes through ByteLevelEncode.
  bool byte_level() const;

 private:
  struct Step {
    enum Kind { kByteLevel, kSplit, kMetaspace } kind;
    bool use_regex = false;         // ByteLevel: split with GPT-2's pattern first
    bool add_prefix_space = false;  // ByteLevel: " " before a piece not starting with one
    SplitPattern pattern = SplitPattern::kGpt2;  // Split
    std::string replacement;                     // Metaspace: what a space becomes ("▁")
    enum Prepend { kAlways, kFirst, kNever } prepend = kAlways;  // Metaspace
    bool split = true;  // Metaspace: cut before every replacement
  };
  static absl::StatusOr<Step> StepFromJson(const nlohmann::json& spec, const std::string& field);
  static void Apply(const Step& step, std::vector<TextPiece>* pieces);

  std::vector<Step> steps_;
};

}  // namespace zerod::data
