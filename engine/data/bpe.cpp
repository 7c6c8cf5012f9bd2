#include "engine/data/bpe.h"

#include <functional>
#include <queue>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/data/unicode.h"

namespace zerod::data {
namespace {

constexpr size_t kMaxCachedWordBytes = 256;
constexpr size_t kMaxCacheEntries = 1 << 18;

absl::Status Unsupported(std::string_view field, const nlohmann::json& value,
                         std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat(std::string(field), " is ", value.dump(), "; ", std::string(why)));
}

}  // namespace

absl::StatusOr<BpeModel> BpeModel::FromJson(const nlohmann::json& model) {
  if (!model.is_object()) return absl::InvalidArgumentError("model is missing or not an object");
  const std::string type = model.value("type", std::string("BPE"));
  if (type != "BPE")
    return absl::InvalidArgumentError(absl::StrCat(
        "model.type is \"", type, "\"; zerod implements BPE only (not WordPiece, Unigram, ...)"));
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && !model[key].is_null() && model[key] != "")
      return Unsupported(absl::StrCat("model.", key), model[key], "zerod does not implement it");
  }
  if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"] != 0)
    return Unsupported("model.dropout", model["dropout"], "zerod encodes without dropout");

  BpeModel bpe;
  const auto& vocab = model.value("vocab", nlohmann::json());
  if (!vocab.is_object())
    return absl::InvalidArgumentError("model.vocab is missing or not an object");
  for (const auto& [token, id] : vocab.items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
      return Unsupported(absl::StrCat("model.vocab[\"", token, "\"]"), id,
                         "ids must be non-negative integers");
    const auto v = id.get<int32_t>();
    bpe.vocab_.emplace(token, v);
    bpe.max_id_ = std::max(bpe.max_id_, v);
  }

  const auto& merges = model.value("merges", nlohmann::json::array());
  if (!merges.is_array()) return Unsupported("model.merges", merges, "it must be a list");
  bpe.merges_.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const auto& m = merges[i];
    std::string a, b;
    // Two spellings: "a b" (older files, Llama-2) and ["a", "b"] (tokenizers >= 0.20).
    if (m.is_string()) {
      const std::string s = m;
      const size_t space = s.find(' ');
      if (space == std::string::npos)
        return Unsupported(absl::StrCat("model.merges[", i, "]"), m, "expected \"a b\"");
      a = s.substr(0, space), b = s.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      a = m[0], b = m[1];
    } else {
      return Unsupported(absl::StrCat("model.merges[", i, "]"), m,
                         "expected \"a b\" or [\"a\", \"b\"]");
    }
    const auto ia = bpe.TokenToId(a), ib = bpe.TokenToId(b), iab = bpe.TokenToId(a + b);
    if (!ia || !ib || !iab)
      return Unsupported(absl::StrCat("model.merges[", i, "]"), m,
                         absl::StrCat("\"",
                                      !ia   ? a
                                      : !ib ? b
                                            : a + b,
                                      "\" is not in model.vocab"));
    bpe.merges_.emplace(PairKey(*ia, *ib), Merge{static_cast<int32_t>(i), *iab});
  }

  if (model.contains("unk_token") && !model["unk_token"].is_null()) {
    const std::string unk = model["unk_token"];
    bpe.unk_id_ = bpe.TokenToId(unk);
    if (!bpe.unk_id_)
      return Unsupported("model.unk_token", model["unk_token"], "it is not in model.vocab");
  }
  bpe.fuse_unk_ = model.value("fuse_unk", false);
  bpe.byte_fallback_ = model.value("byte_fallback", false);
  bpe.ignore_merges_ = model.value("ignore_merges", false);
  for (int byte = 0; byte < 256; ++byte)
    bpe.byte_ids_[byte] = bpe.TokenToId(absl::StrFormat("<0x%02X>", byte)).value_or(-1);
  return bpe;
}

std::optional<int32_t> BpeModel::TokenToId(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> BpeModel::TokenStrings() const {
  std::vector<std::string> table(static_cast<size_t>(max_id_ + 1));
  for (const auto& [token, id] : vocab_) table[static_cast<size_t>(id)] = token;
  return table;
}

void BpeModel::InitialSymbols(std::string_view word, std::vector<int32_t>* symbols) const {
  // A pending <unk>: tokenizers emits it when the next known character comes or the word
  // ends, fusing a run of unknown characters into one when fuse_unk is set. Byte-fallback
  // tokens do not flush it (they go out before it), which we mirror.
  bool pending_unk = false;
  for (size_t pos = 0; pos < word.size();) {
    const size_t start = pos;
    DecodeUtf8(word, &pos);
    const std::string_view ch = word.substr(start, pos - start);
    if (auto id = TokenToId(ch)) {
      if (pending_unk) symbols->push_back(*unk_id_), pending_unk = false;
      symbols->push_back(*id);
      continue;
    }
    if (byte_fallback_) {
      bool all = true;
      for (unsigned char b : ch) all = all && byte_ids_[b] >= 0;
      if (all) {
        for (unsigned char b : ch) symbols->push_back(byte_ids_[b]);
        continue;
      }
    }
    if (!unk_id_) continue;  // no unk_token: tokenizers drops the character
    if (pending_unk && !fuse_unk_) symbols->push_back(*unk_id_);
    pending_unk = true;
  }
  if (pending_unk) symbols->push_back(*unk_id_);
}

void BpeModel::MergeAll(std::vector<int32_t>* symbols) const {
  std::vector<int32_t>& ids = *symbols;
  const int n = static_cast<int>(ids.size());
  if (n < 2) return;
  std::vector<int> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (int i = 0; i < n; ++i) prev[i] = i - 1, next[i] = i + 1 < n ? i + 1 : -1;
  // (rank, position, new id): the lowest rank first, the leftmost among equal ranks.
  using Candidate = std::tuple<int32_t, int, int32_t>;
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  auto push = [&](int pos) {
    if (pos < 0 || next[pos] < 0) return;
    auto it = merges_.find(PairKey(ids[pos], ids[next[pos]]));
    if (it != merges_.end()) heap.emplace(it->second.rank, pos, it->second.new_id);
  };
  for (int i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    const auto [rank, pos, new_id] = heap.top();
    heap.pop();
    // Stale candidates: a neighbour was merged away since this one was pushed.
    if (!alive[pos] || next[pos] < 0) continue;
    auto it = merges_.find(PairKey(ids[pos], ids[next[pos]]));
    if (it == merges_.end() || it->second.new_id != new_id) continue;
    const int gone = next[pos];
    ids[pos] = new_id;
    alive[gone] = false;
    next[pos] = next[gone];
    if (next[pos] >= 0) prev[next[pos]] = pos;
    push(prev[pos]);
    push(pos);
  }
  int w = 0;
  for (int i = 0; i >= 0 && i < n; i = next[i]) ids[w++] = ids[i];
  ids.resize(w);
}

void BpeModel::EncodeWord(std::string_view word, std::vector<int32_t>* ids) {
  if (ignore_merges_) {
    if (auto id = TokenToId(word)) {
      ids->push_back(*id);
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    if (auto it = cache_.find(word); it != cache_.end()) {
      ids->insert(ids->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> symbols;
  symbols.reserve(word.size());
  InitialSymbols(word, &symbols);
  MergeAll(&symbols);
  ids->insert(ids->end(), symbols.begin(), symbols.end());
  if (cacheable) {
    if (cache_.size() >= kMaxCacheEntries) cache_.clear();
    cache_.emplace(std::string(word), std::move(symbols));
  }
}

}  // namespace zerod::data
