#include "engine/data/pre_tokenizer.h"

#include <array>

#include "absl/strings/str_cat.h"
#include "engine/data/unicode.h"

namespace zerod::data {
namespace {

// The regex sources as tokenizer.json spells them (after JSON unescaping).
constexpr std::string_view kGpt2Regex =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// The text as code points with their byte offsets; off[n] == text.size().
struct CodePoints {
  std::vector<char32_t> cp;
  std::vector<size_t> off;
  explicit CodePoints(std::string_view text) {
    size_t pos = 0;
    while (pos < text.size()) {
      off.push_back(pos);
      cp.push_back(DecodeUtf8(text, &pos));
    }
    off.push_back(text.size());
  }
  size_t size() const { return cp.size(); }
};

bool IsOther(char32_t c) { return !IsWhitespace(c) && !IsLetter(c) && !IsNumber(c); }
bool IsNewline(char32_t c) { return c == '\r' || c == '\n'; }

char32_t FoldAscii(char32_t c, bool ignore_case) {
  if (!ignore_case) return c;
  if (c == 0x17F) return 's';  // LATIN SMALL LETTER LONG S case-folds to 's'
  return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

// Length in code points of the contraction ('s 't 're 've 'm 'll 'd) at i, or 0.
size_t MatchContraction(const CodePoints& t, size_t i, bool ignore_case) {
  const size_t n = t.size();
  if (t.cp[i] != '\'' || i + 1 >= n) return 0;
  const char32_t a = FoldAscii(t.cp[i + 1], ignore_case);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  if (i + 2 >= n) return 0;
  const char32_t b = FoldAscii(t.cp[i + 2], ignore_case);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

template <typename Pred>
size_t RunEnd(const CodePoints& t, size_t j, Pred pred) {
  while (j < t.size() && pred(t.cp[j])) ++j;
  return j;
}

// `\s+(?!\S)|\s+` at the whitespace run [i, k): all of it at the end of the text or when it
// is one character, else all but its last character (which goes with the next word).
size_t MatchWhitespaceTail(const CodePoints& t, size_t i, size_t k) {
  return (k == t.size() || k - i == 1) ? k : k - 1;
}

// End (code-point index) of the GPT-2 pattern's match starting at i.
size_t NextGpt2(const CodePoints& t, size_t i) {
  const size_t n = t.size();
  if (size_t len = MatchContraction(t, i, /*ignore_case=*/false)) return i + len;
  // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+` in that order.
  const size_t j = (t.cp[i] == ' ' && i + 1 < n) ? i + 1 : i;
  for (bool (*cls)(char32_t) : {IsLetter, IsNumber, IsOther}) {
    if (cls(t.cp[j])) return RunEnd(t, j, cls);
  }
  // Only whitespace is left: `\s+(?!\S)|\s+`.
  return MatchWhitespaceTail(t, i, RunEnd(t, i, IsWhitespace));
}

// End of the Llama-3 (max_digits 3) or Qwen2 (max_digits 1) pattern's match starting at i.
size_t NextLlama3(const CodePoints& t, size_t i, size_t max_digits) {
  const size_t n = t.size();
  const char32_t c = t.cp[i];
  if (size_t len = MatchContraction(t, i, /*ignore_case=*/true)) return i + len;
  // `[^\r\n\p{L}\p{N}]?\p{L}+`
  if (IsLetter(c)) return RunEnd(t, i, IsLetter);
  if (!IsNewline(c) && !IsNumber(c) && i + 1 < n && IsLetter(t.cp[i + 1]))
    return RunEnd(t, i + 1, IsLetter);
  // `\p{N}{1,3}`
  if (IsNumber(c)) {
    size_t j = i;
    while (j < n && j - i < max_digits && IsNumber(t.cp[j])) ++j;
    return j;
  }
  // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  const size_t j = (c == ' ' && i + 1 < n && IsOther(t.cp[i + 1])) ? i + 1 : i;
  if (IsOther(t.cp[j])) return RunEnd(t, RunEnd(t, j, IsOther), IsNewline);
  // `\s*[\r\n]+`: the whitespace run up to and including its last newline.
  const size_t k = RunEnd(t, i, IsWhitespace);
  for (size_t p = k; p > i; --p) {
    if (IsNewline(t.cp[p - 1])) return p;
  }
  return MatchWhitespaceTail(t, i, k);
}

const std::array<std::string, 256>& ByteLevelTable() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    char32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      AppendUtf8(printable ? static_cast<char32_t>(b) : next++, &t[b]);
    }
    return t;
  }();
  return table;
}

void ReplaceAll(std::string* s, std::string_view from, std::string_view to) {
  std::string out;
  size_t pos = 0;
  for (size_t hit; (hit = s->find(from, pos)) != std::string::npos; pos = hit + from.size())
    out.append(*s, pos, hit - pos).append(to);
  out.append(*s, pos, std::string::npos);
  *s = std::move(out);
}

}  // namespace

absl::StatusOr<SplitPattern> PatternFromRegex(std::string_view regex, std::string_view field) {
  if (regex == kGpt2Regex) return SplitPattern::kGpt2;
  if (regex == kLlama3Regex) return SplitPattern::kLlama3;
  if (regex == kQwen2Regex) return SplitPattern::kQwen2;
  return absl::InvalidArgumentError(
      absl::StrCat(std::string(field), " is the regex \"", std::string(regex),
                   "\"; zerod implements only the GPT-2, Llama-3 and Qwen2 split patterns"));
}

void SplitByPattern(SplitPattern pattern, std::string_view text,
                    std::vector<std::string_view>* pieces) {
  const CodePoints t(text);
  for (size_t i = 0; i < t.size();) {
    size_t end = 0;
    switch (pattern) {
      case SplitPattern::kGpt2:
        end = NextGpt2(t, i);
        break;
      case SplitPattern::kLlama3:
        end = NextLlama3(t, i, 3);
        break;
      case SplitPattern::kQwen2:
        end = NextLlama3(t, i, 1);
        break;
    }
    pieces->push_back(text.substr(t.off[i], t.off[end] - t.off[i]));
    i = end;
  }
}

bool PreTokenizer::byte_level() const {
  for (const Step& step : steps_) {
    if (step.kind == Step::kByteLevel) return true;
  }
  return false;
}

std::string ByteLevelEncode(std::string_view bytes) {
  const auto& table = ByteLevelTable();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) out += table[b];
  return out;
}

absl::StatusOr<PreTokenizer::Step> PreTokenizer::StepFromJson(const nlohmann::json& spec,
                                                              const std::string& field) {
  if (!spec.is_object() || !spec.contains("type") || !spec["type"].is_string())
    return absl::InvalidArgumentError(absl::StrCat(field, " has no \"type\""));
  const std::string type = spec["type"];
  Step step;
  if (type == "ByteLevel") {
    step.kind = Step::kByteLevel;
    step.use_regex = spec.value("use_regex", true);
    step.add_prefix_space = spec.value("add_prefix_space", false);
  } else if (type == "Split") {
    step.kind = Step::kSplit;
    const auto& pattern = spec.value("pattern", nlohmann::json());
    if (!pattern.is_object() || !pattern.contains("Regex") || !pattern["Regex"].is_string())
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".pattern is ", pattern.dump(), "; zerod implements only Regex split patterns"));
    auto p = PatternFromRegex(pattern["Regex"].get<std::string>(), field + ".pattern.Regex");
    if (!p.ok()) return p.status();
    step.pattern = *p;
    const std::string behavior = spec.value("behavior", "");
    if (behavior != "Isolated")
      return absl::InvalidArgumentError(absl::StrCat(field, ".behavior is \"", behavior,
                                                     "\"; zerod implements only \"Isolated\""));
    if (spec.value("invert", false))
      return absl::InvalidArgumentError(absl::StrCat(field, ".invert is true; not implemented"));
  } else if (type == "Metaspace") {
    step.kind = Step::kMetaspace;
    step.replacement = spec.value("replacement", std::string("\u2581"));
    step.split = spec.value("split", true);
    if (spec.contains("prepend_scheme")) {
      const std::string scheme = spec["prepend_scheme"];
      if (scheme == "always") {
        step.prepend = Step::kAlways;
      } else if (scheme == "first") {
        step.prepend = Step::kFirst;
      } else if (scheme == "never") {
        step.prepend = Step::kNever;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat(field, ".prepend_scheme is \"", scheme, "\""));
      }
    } else {
      // Files older than prepend_scheme say add_prefix_space.
      step.prepend = spec.value("add_prefix_space", true) ? Step::kAlways : Step::kNever;
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".type is \"", type,
                     "\"; zerod implements the pre-tokenizers ByteLevel, Split (known "
                     "patterns), Metaspace and Sequence"));
  }
  return step;
}

absl::StatusOr<PreTokenizer> PreTokenizer::FromJson(const nlohmann::json& spec) {
  PreTokenizer pre;
  if (spec.is_null()) return pre;
  const std::string field = "pre_tokenizer";
  if (spec.is_object() && spec.value("type", "") == "Sequence") {
    const auto& list = spec.value("pretokenizers", nlohmann::json::array());
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string sub = absl::StrCat(field, ".pretokenizers[", i, "]");
      if (list[i].is_object() && list[i].value("type", "") == "Sequence")
        return absl::InvalidArgumentError(absl::StrCat(sub, " is a nested Sequence"));
      auto step = StepFromJson(list[i], sub);
      if (!step.ok()) return step.status();
      pre.steps_.push_back(std::move(*step));
    }
    return pre;
  }
  auto step = StepFromJson(spec, field);
  if (!step.ok()) return step.status();
  pre.steps_.push_back(std::move(*step));
  return pre;
}

void PreTokenizer::Apply(const Step& step, std::vector<TextPiece>* pieces) {
  std::vector<TextPiece> out;
  out.reserve(pieces->size());
  for (TextPiece& piece : *pieces) {
    switch (step.kind) {
      case Step::kByteLevel: {
        // Like tokenizers' prepend: nothing happens to an empty piece.
        if (step.add_prefix_space && !piece.text.empty() && piece.text[0] != ' ')
          piece.text = absl::StrCat(" ", piece.text);
        if (!step.use_regex) {
          out.push_back({ByteLevelEncode(piece.text), piece.at_origin});
          break;
        }
        std::vector<std::string_view> words;
        SplitByPattern(SplitPattern::kGpt2, piece.text, &words);
        for (size_t i = 0; i < words.size(); ++i)
          out.push_back({ByteLevelEncode(words[i]), piece.at_origin && i == 0});
        break;
      }
      case Step::kSplit: {
        std::vector<std::string_view> words;
        SplitByPattern(step.pattern, piece.text, &words);
        for (size_t i = 0; i < words.size(); ++i)
          out.push_back({std::string(words[i]), piece.at_origin && i == 0});
        break;
      }
      case Step::kMetaspace: {
        std::string text = std::move(piece.text);
        ReplaceAll(&text, " ", step.replacement);
        const bool prepend =
            step.prepend == Step::kAlways || (step.prepend == Step::kFirst && piece.at_origin);
        if (prepend && !text.empty() &&
            text.compare(0, step.replacement.size(), step.replacement) != 0)
          text.insert(0, step.replacement);
        if (!step.split || step.replacement.empty()) {
          out.push_back({std::move(text), piece.at_origin});
          break;
        }
        // MergedWithNext: every replacement starts a new word.
        size_t start = 0;
        for (size_t hit = text.find(step.replacement, 1); hit != std::string::npos;
             hit = text.find(step.replacement, hit + step.replacement.size())) {
          out.push_back({text.substr(start, hit - start), piece.at_origin && start == 0});
          start = hit;
        }
        if (start < text.size()) out.push_back({text.substr(start), piece.at_origin && start == 0});
        break;
      }
    }
  }
  *pieces = std::move(out);
}

void PreTokenizer::Split(TextPiece piece, std::vector<TextPiece>* words) const {
  std::vector<TextPiece> pieces;
  pieces.push_back(std::move(piece));
  for (const Step& step : steps_) Apply(step, &pieces);
  for (TextPiece& p : pieces) {
    if (!p.text.empty()) words->push_back(std::move(p));
  }
}

}  // namespace zerod::data
