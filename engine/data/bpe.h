// The BPE model of tokenizer.json ("model": {"type": "BPE", ...}): the vocabulary, the ranked
// merges, and how a word that is not in the vocabulary becomes ids (byte fallback <0xXX>,
// <unk>, fused <unk>). Encoding a word is what tokenizers' BPE::tokenize does without
// dropout: split into characters, then repeatedly merge the adjacent pair of lowest rank,
// leftmost first.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace zerod::data {

// Hash and equality that let a map keyed by std::string be searched with a string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  // From tokenizer.json's "model". Refuses other model types and BPE options zerod does not
  // implement (dropout, continuing_subword_prefix, end_of_word_suffix), merges that name
  // tokens outside the vocabulary, and an unk_token missing from it.
  static absl::StatusOr<BpeModel> FromJson(const nlohmann::json& model);

  // Appends the ids of one pre-tokenized word. Not thread-safe: it fills a word cache.
  void EncodeWord(std::string_view word, std::vector<int32_t>* ids);

  std::optional<int32_t> TokenToId(std::string_view token) const;
  // The largest id in the vocabulary (-1 when empty).
  int32_t max_id() const { return max_id_; }
  // Every id's token string, indexed by id ("" for ids the vocabulary skips).
  std::vector<std::string> TokenStrings() const;
  std::optional<int32_t> unk_id() const { return unk_id_; }

 private:
  struct Merge {
    int32_t rank;
    int32_t new_id;
  };
  static uint64_t PairKey(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  // The word's symbols before merging: one per character, or its <0xXX> bytes, or <unk>.
  void InitialSymbols(std::string_view word, std::vector<int32_t>* symbols) const;
  void MergeAll(std::vector<int32_t>* symbols) const;

  // Constant after FromJson.
  TokenMap vocab_;
  std::unordered_map<uint64_t, Merge> merges_;
  int32_t max_id_ = -1;
  std::optional<int32_t> unk_id_;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  std::array<int32_t, 256> byte_ids_{};  // id of <0xXX>, -1 where the vocabulary lacks it

  // Words seen before (short ones only); cleared when it grows past a bound.
  std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

}  // namespace zerod::data
