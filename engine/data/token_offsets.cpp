// Tokenizer::EncodeWithOffsets: which bytes of the text each token stands for, found after
// encoding by lining each token's bytes up with the text.
//
// Note [token offsets]
// ~~~~~~~~~~~~~~~~~~~~
// The pipeline (added tokens, normalizer, pre-tokenizer, BPE) keeps no alignment, so the
// offsets are recovered from the ids: each id spells bytes (an added token its content; a
// byte-level vocabulary's strings undone through ByteLevelEncode; otherwise "<0xXX>" is the
// byte and "▁" a space), and the ids' bytes are matched against the text left to right:
//   - a space in the token that the text lacks was inserted (Prepend "▁", Metaspace, a
//     ByteLevel prefix space) and covers no byte;
//   - a token that does not match where the last one ended is searched for further on:
//     the bytes between were swallowed (an added token's lstrip/rstrip) or dropped (a
//     character with no id and no <unk>), and belong to no token, or to a pending <unk>;
//   - <unk> (unless the text spells it there) covers the text up to the next token's match
//     (or the end).
// A token found nowhere is an error: masks built on wrong offsets would train on the wrong
// tokens silently.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/data/tokenizer.h"
#include "engine/data/unicode.h"

namespace zerod::data {
namespace {

// "<0x0A>" -> 0x0A; -1 when `s` is not a byte-fallback token.
int ByteFallbackValue(std::string_view s) {
  if (s.size() != 6 || s.substr(0, 3) != "<0x" || s[5] != '>') return -1;
  int v = 0;
  for (char c : s.substr(3, 2)) {
    v *= 16;
    if (c >= '0' && c <= '9')
      v += c - '0';
    else if (c >= 'A' && c <= 'F')
      v += c - 'A' + 10;
    else if (c >= 'a' && c <= 'f')
      v += c - 'a' + 10;
    else
      return -1;
  }
  return v;
}

// Matches `bytes` at text[pos], skipping spaces of `bytes` the text lacks. The end, or npos.
size_t MatchAt(std::string_view text, size_t pos, std::string_view bytes, size_t* first) {
  *first = std::string_view::npos;
  for (char b : bytes) {
    if (pos < text.size() && text[pos] == b) {
      if (*first == std::string_view::npos) *first = pos;
      ++pos;
    } else if (b != ' ') {
      return std::string_view::npos;
    }
  }
  if (*first == std::string_view::npos) *first = pos;
  return pos;
}

}  // namespace

absl::Status Tokenizer::EncodeWithOffsets(std::string_view text, std::vector<int32_t>* ids,
                                          std::vector<TokenSpan>* spans) {
  if (id_bytes_.empty()) {
    // Built once: the bytes each id spells.
    std::vector<std::string> strings = bpe_->TokenStrings();
    strings.resize(static_cast<size_t>(vocab_size_));
    unknown_.assign(strings.size(), false);
    if (pre_tokenizer_.byte_level()) {
      std::vector<int> inverse(0x180, -1);  // ByteLevelEncode's code points are < U+0180
      for (int b = 0; b < 256; ++b) {
        const std::string enc = ByteLevelEncode(std::string(1, static_cast<char>(b)));
        size_t p = 0;
        const char32_t cp = DecodeUtf8(enc, &p);
        if (cp < inverse.size()) inverse[cp] = b;
      }
      for (std::string& s : strings) {
        std::string out;
        for (size_t p = 0; p < s.size();) {
          const size_t start = p;
          const char32_t cp = DecodeUtf8(s, &p);
          if (cp < inverse.size() && inverse[cp] >= 0) {
            out.push_back(static_cast<char>(inverse[cp]));
          } else {
            out.append(s, start, p - start);  // not a byte-level string: kept as written
          }
        }
        s = std::move(out);
      }
    } else {
      for (std::string& s : strings) {
        if (const int v = ByteFallbackValue(s); v >= 0) {
          s.assign(1, static_cast<char>(v));
          continue;
        }
        std::string out;
        for (size_t hit, pos = 0;; pos = hit + 3) {
          hit = s.find("\u2581", pos);
          out.append(s, pos, hit == std::string::npos ? std::string::npos : hit - pos);
          if (hit == std::string::npos) break;
          out.push_back(' ');
        }
        s = std::move(out);
      }
    }
    if (const auto unk = bpe_->unk_id()) unknown_[static_cast<size_t>(*unk)] = true;
    // <unk> is often an added token too; it is known where the text spells it.
    for (const AddedToken& t : added_) strings[static_cast<size_t>(t.id)] = t.content;
    id_bytes_ = std::move(strings);
  }

  const size_t first_new = ids->size();
  Encode(text, ids);
  size_t pos = 0;
  std::optional<size_t> pending_unk;  // index into *spans of an <unk> waiting for its end
  for (size_t i = first_new; i < ids->size(); ++i) {
    const auto id = static_cast<size_t>((*ids)[i]);
    if (unknown_[id] &&
        !(id_bytes_[id].size() > 0 && text.substr(pos).starts_with(id_bytes_[id]))) {
      if (!pending_unk) pending_unk = spans->size();
      spans->push_back({pos, pos});
      continue;
    }
    const std::string& bytes = id_bytes_[id];
    size_t first = 0;
    size_t end = pending_unk ? std::string_view::npos : MatchAt(text, pos, bytes, &first);
    if (end == std::string_view::npos) {
      // Search on: the whole spelling, then without the spaces it may have had inserted.
      const size_t lead = std::min(bytes.find_first_not_of(' '), bytes.size());
      for (size_t from : {size_t{0}, lead}) {
        const std::string_view core = std::string_view(bytes).substr(from);
        const size_t at = core.empty() ? pos : text.find(core, pending_unk ? pos + 1 : pos);
        if (at != std::string_view::npos) {
          first = at;
          end = at + core.size();
          break;
        }
      }
      if (end == std::string_view::npos && pending_unk) {
        const size_t at = text.find(std::string_view(bytes).substr(lead), pos);
        if (at != std::string_view::npos) first = at, end = at + bytes.size() - lead;
      }
      if (end == std::string_view::npos)
        return absl::InternalError(absl::StrCat(
            "token ", i - first_new, " (id ", id, ") does not line up with the text after byte ",
            pos, "; the tokenizer's offsets are unknown (Note [token offsets])"));
    }
    if (pending_unk) {
      for (size_t u = *pending_unk; u < spans->size(); ++u) (*spans)[u] = {pos, first};
      pending_unk.reset();
    }
    spans->push_back({first, end});
    pos = end;
  }
  if (pending_unk) {
    for (size_t u = *pending_unk; u < spans->size(); ++u) (*spans)[u] = {pos, text.size()};
  }
  return absl::OkStatus();
}

}  // namespace zerod::data
