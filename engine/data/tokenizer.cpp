#include "engine/data/tokenizer.h"

#include "absl/strings/str_cat.h"
#include "engine/util/files.h"

namespace zerod::data {
namespace {

// Words between progress callbacks inside one long stretch of model text.
constexpr size_t kProgressEveryWords = 4096;

absl::StatusOr<AddedToken> AddedTokenFromJson(const nlohmann::json& j, size_t index) {
  const std::string field = absl::StrCat("added_tokens[", index, "]");
  if (!j.is_object() || !j.contains("content") || !j["content"].is_string() || !j.contains("id") ||
      !j["id"].is_number_integer() || j["id"].get<int64_t>() < 0)
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is ", j.dump(), "; expected {\"id\": N, \"content\": \"...\"}"));
  AddedToken t;
  t.content = j["content"];
  t.id = j["id"];
  t.single_word = j.value("single_word", false);
  t.lstrip = j.value("lstrip", false);
  t.rstrip = j.value("rstrip", false);
  t.normalized = j.value("normalized", true);
  t.special = j.value("special", false);
  return t;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromFile(const std::string& path) {
  const std::optional<std::string> text = ReadFileToString(path);
  if (!text) return absl::NotFoundError(absl::StrCat(path, " cannot be read"));
  auto tok = FromJson(*text);
  if (!tok.ok())
    return absl::Status(tok.status().code(), absl::StrCat(path, ": ", tok.status().message()));
  return tok;
}

absl::StatusOr<std::unique_ptr<Tokenizer>> Tokenizer::FromJson(std::string_view json_text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(json_text);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("not valid JSON: ", e.what()));
  }
  if (!j.is_object())
    return absl::InvalidArgumentError("not a tokenizer.json: the top level is not an object");
  std::unique_ptr<Tokenizer> tok(new Tokenizer());
  try {
    auto bpe = BpeModel::FromJson(j.value("model", nlohmann::json()));
    if (!bpe.ok()) return bpe.status();
    tok->bpe_.emplace(std::move(*bpe));
    auto normalizer = Normalizer::FromJson(j.value("normalizer", nlohmann::json()));
    if (!normalizer.ok()) return normalizer.status();
    tok->normalizer_ = std::move(*normalizer);
    auto pre = PreTokenizer::FromJson(j.value("pre_tokenizer", nlohmann::json()));
    if (!pre.ok()) return pre.status();
    tok->pre_tokenizer_ = std::move(*pre);

    tok->vocab_size_ = int64_t{tok->bpe_->max_id()} + 1;
    const auto& added = j.value("added_tokens", nlohmann::json::array());
    if (!added.is_array())
      return absl::InvalidArgumentError(absl::StrCat("added_tokens is ", added.dump()));
    for (size_t i = 0; i < added.size(); ++i) {
      auto t = AddedTokenFromJson(added[i], i);
      if (!t.ok()) return t.status();
      tok->vocab_size_ = std::max(tok->vocab_size_, int64_t{t->id} + 1);
      if (t->normalized) {
        // Like tokenizers: a normalized token is searched for in its normalized spelling.
        std::string pattern = t->content;
        tok->normalizer_.Apply(&pattern);
        tok->normalized_matcher_.Add(std::move(pattern), *t);
      } else {
        tok->raw_matcher_.Add(t->content, *t);
      }
      tok->added_.push_back(std::move(*t));
    }
  } catch (const nlohmann::json::exception& e) {
    // A field of the wrong JSON type (e.g. a number where a string belongs).
    return absl::InvalidArgumentError(absl::StrCat("malformed tokenizer.json: ", e.what()));
  }
  return tok;
}

std::optional<int32_t> Tokenizer::TokenToId(std::string_view token) const {
  for (const AddedToken& t : added_) {
    if (t.content == token) return t.id;
  }
  return bpe_->TokenToId(token);
}

void Tokenizer::EncodeModelText(std::string_view text, bool at_origin, std::vector<int32_t>* ids,
                                const std::function<void(double)>& fraction_done) {
  std::vector<TextPiece> words;
  pre_tokenizer_.Split({std::string(text), at_origin}, &words);
  for (size_t i = 0; i < words.size(); ++i) {
    bpe_->EncodeWord(words[i].text, ids);
    if (fraction_done && (i + 1) % kProgressEveryWords == 0)
      fraction_done(static_cast<double>(i + 1) / static_cast<double>(words.size()));
  }
}

void Tokenizer::Encode(std::string_view text, std::vector<int32_t>* ids,
                       const std::function<void(size_t)>& progress) {
  std::vector<Segment> raw;
  raw_matcher_.Split(text, &raw);
  for (const Segment& seg : raw) {
    if (seg.id >= 0) {
      ids->push_back(seg.id);
      continue;
    }
    std::string normalized(text.substr(seg.begin, seg.end - seg.begin));
    normalizer_.Apply(&normalized);
    std::vector<Segment> pieces;
    if (normalized_matcher_.empty()) {
      pieces.push_back({0, normalized.size(), -1});
    } else {
      normalized_matcher_.Split(normalized, &pieces);
    }
    std::function<void(double)> fraction_done;
    if (progress) {
      // Progress inside this segment, in raw bytes; normalization keeps lengths roughly.
      fraction_done = [&](double f) {
        progress(seg.begin + static_cast<size_t>(f * static_cast<double>(seg.end - seg.begin)));
      };
    }
    for (const Segment& piece : pieces) {
      if (piece.id >= 0) {
        ids->push_back(piece.id);
        continue;
      }
      const std::string_view piece_text =
          std::string_view(normalized).substr(piece.begin, piece.end - piece.begin);
      EncodeModelText(piece_text, seg.begin == 0 && piece.begin == 0, ids,
                      pieces.size() == 1 ? fraction_done : nullptr);
    }
    if (progress) progress(seg.end);
  }
}

}  // namespace zerod::data
