// A Hugging Face tokenizer.json, read and used for encoding (never decoding): the pipeline
// added tokens -> normalizer -> pre-tokenizer -> BPE, whose ids equal those of the
// `tokenizers` library's `Tokenizer.encode(text, add_special_tokens=False).ids`.
//
// What it covers: byte-level BPE (GPT-2's ByteLevel pre-tokenizer; Llama-3's and Qwen2's
// Split + ByteLevel), BPE with byte fallback (Llama-2 / Mistral: Prepend+Replace normalizer
// or Metaspace pre-tokenizer, <0xXX> tokens, fused <unk>), added and special tokens, merges
// in both JSON spellings, ignore_merges. Everything else (WordPiece, Unigram, Unicode
// normalizers, other regexes) is refused at load time with the JSON field and value.
// post_processor, decoder, padding and truncation are ignored: encoding without special
// tokens does not use them, and data preparation wants neither truncation nor padding.
// Torch-free.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/data/added_tokens.h"
#include "engine/data/bpe.h"
#include "engine/data/normalizer.h"
#include "engine/data/pre_tokenizer.h"

namespace zerod::data {

// Bytes [begin, end) of an encoded text.
struct TokenSpan {
  size_t begin = 0;
  size_t end = 0;
};

class Tokenizer {
 public:
  // Reads `path` (a tokenizer.json). Errors start with the path and name the JSON field.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromFile(const std::string& path);
  // Parses tokenizer.json text; errors name the JSON field.
  static absl::StatusOr<std::unique_ptr<Tokenizer>> FromJson(std::string_view json_text);

  // Appends the ids of `text` to *ids. Invalid UTF-8 bytes are kept as they are (byte-level
  // models encode them like any byte; others see U+FFFD's category). `progress`, when set,
  // is called now and then with how many bytes of `text` are done. Not thread-safe.
  void Encode(std::string_view text, std::vector<int32_t>* ids,
              const std::function<void(size_t)>& progress = nullptr);

  // Encode, and (*spans)[i] = the bytes of `text` that token i stands for
  // (token_offsets.cpp, Note [token offsets]). An error where the tokens cannot be lined up
  // with the text (it names the token and the byte). Not thread-safe.
  absl::Status EncodeWithOffsets(std::string_view text, std::vector<int32_t>* ids,
                                 std::vector<TokenSpan>* spans);

  // The id of `token`: added tokens first, then the model's vocabulary.
  std::optional<int32_t> TokenToId(std::string_view token) const;
  // One more than the largest id (model vocabulary and added tokens).
  int64_t vocab_size() const { return vocab_size_; }

 private:
  Tokenizer() = default;
  void EncodeModelText(std::string_view text, bool at_origin, std::vector<int32_t>* ids,
                       const std::function<void(double)>& fraction_done);

  // Constant after FromJson (bpe_ keeps a word cache, hence non-const Encode).
  std::vector<AddedToken> added_;
  AddedTokenMatcher raw_matcher_;         // normalized=false tokens, on the raw text
  AddedTokenMatcher normalized_matcher_;  // normalized=true tokens, on normalized text
  Normalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  std::optional<BpeModel> bpe_;
  int64_t vocab_size_ = 0;

  // The bytes each id spells, built by the first EncodeWithOffsets; unknown_[id] for <unk>
  // (whose bytes are whatever the text had there).
  std::vector<std::string> id_bytes_;
  std::vector<bool> unknown_;
};

}  // namespace zerod::data
