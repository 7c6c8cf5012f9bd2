// The chat-template lexer (lexer.h): text and tags with Jinja2's whitespace control, then
// expression tokens inside each tag.
#include "engine/chat/lexer.h"

#include <cctype>
#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace zerod::chat {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp > 0x10FFFF) cp = 0xFFFD;
  if (cp < 0x80) {
    *out += char(cp);
  } else if (cp < 0x800) {
    *out += char(0xC0 | (cp >> 6));
    *out += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    *out += char(0xE0 | (cp >> 12));
    *out += char(0x80 | ((cp >> 6) & 0x3F));
    *out += char(0x80 | (cp & 0x3F));
  } else {
    *out += char(0xF0 | (cp >> 18));
    *out += char(0x80 | ((cp >> 12) & 0x3F));
    *out += char(0x80 | ((cp >> 6) & 0x3F));
    *out += char(0x80 | (cp & 0x3F));
  }
}

class Lexer {
 public:
  Lexer(absl::string_view src, absl::string_view origin) : src_(src), origin_(origin) {}

  absl::StatusOr<std::vector<Token>> Run() {
    while (pos_ < src_.size()) {
      size_t open = FindOpen(pos_);
      std::string text(src_.substr(pos_, open - pos_));
      ApplyRightStrip(&text);
      if (open == src_.size()) {
        AddText(std::move(text), line_);
        break;
      }
      const char kind = src_[open + 1];  // '{', '%' or '#'
      const char sign = open + 2 < src_.size() ? src_[open + 2] : 0;
      if (sign == '-') {
        while (!text.empty() && IsSpace(text.back())) text.pop_back();
      } else if (sign != '+' && kind != '{') {
        LstripBlock(&text);
      }
      int text_line = line_;
      CountLines(pos_, open);
      pos_ = open + 2 + ((sign == '-' || sign == '+') ? 1 : 0);
      AddText(std::move(text), text_line);
      absl::Status st = kind == '#' ? Comment() : kind == '{' ? Tag(false) : Tag(true);
      if (!st.ok()) return st;
    }
    tokens_.push_back(Token{Tok::kEof, line_, ""});
    return std::move(tokens_);
  }

 private:
  absl::Status Error(int line, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(std::string(origin_), ":", line, ": ", what));
  }

  size_t FindOpen(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i) {
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) {
        return i;
      }
    }
    return src_.size();
  }

  void CountLines(size_t from, size_t to) {
    for (size_t i = from; i < to && i < src_.size(); ++i) line_ += src_[i] == '\n';
  }

  // lstrip_blocks: the spaces before a block tag go if nothing else precedes it on its line.
  void LstripBlock(std::string* text) const {
    size_t nl = text->rfind('\n');
    size_t line_start = nl == std::string::npos ? 0 : nl + 1;
    if (nl == std::string::npos && !line_starting_) return;
    for (size_t i = line_start; i < text->size(); ++i) {
      if (!IsSpace((*text)[i])) return;
    }
    text->resize(line_start);
  }

  // What the previous tag's closing side asked of the text after it.
  void ApplyRightStrip(std::string* text) {
    if (strip_next_) {
      size_t n = 0;
      while (n < text->size() && IsSpace((*text)[n])) ++n;
      line_starting_ = n > 0 && (*text)[n - 1] == '\n';
      text->erase(0, n);
    } else if (trim_next_ && !text->empty() && (*text)[0] == '\n') {
      text->erase(0, 1);
      line_starting_ = true;
    } else {
      line_starting_ = pos_ == 0;  // the template's first line starts a line too
    }
    strip_next_ = trim_next_ = false;
  }

  void AddText(std::string text, int line) {
    if (!text.empty()) tokens_.push_back(Token{Tok::kText, line, std::move(text)});
  }

  // After an opening "{#": skip to "#}", with the closing side's whitespace control.
  absl::Status Comment() {
    size_t close = src_.find("#}", pos_);
    if (close == absl::string_view::npos) return Error(line_, "unclosed comment {# ... #}");
    SetClosing(close > pos_ ? src_[close - 1] : 0, true);
    CountLines(pos_, close);
    pos_ = close + 2;
    return absl::OkStatus();
  }

  void SetClosing(char sign, bool block) {
    if (sign == '-') {
      strip_next_ = true;
    } else if (sign != '+' && block) {
      trim_next_ = true;
    }
  }

  // After "{{" or "{%": expression tokens up to the closing delimiter.
  absl::Status Tag(bool block) {
    const int begin_line = line_;
    tokens_.push_back(Token{block ? Tok::kBlockBegin : Tok::kVarBegin, line_, ""});
    const size_t first = tokens_.size();
    const char close = block ? '%' : '}';
    while (true) {
      while (pos_ < src_.size() && IsSpace(src_[pos_])) {
        line_ += src_[pos_] == '\n';
        ++pos_;
      }
      if (pos_ >= src_.size()) {
        return Error(begin_line, block ? "unclosed block tag {% ... %}" : "unclosed {{ ... }}");
      }
      char c = src_[pos_];
      char sign = 0;
      if ((c == '-' || c == '+') && pos_ + 2 < src_.size() + 0 && src_[pos_ + 1] == close &&
          src_[pos_ + 2] == '}') {
        sign = c;
        ++pos_;
        c = src_[pos_];
      }
      if (c == close && pos_ + 1 < src_.size() && src_[pos_ + 1] == '}') {
        pos_ += 2;
        SetClosing(sign, block);
        tokens_.push_back(Token{block ? Tok::kBlockEnd : Tok::kVarEnd, line_, ""});
        if (block && tokens_.size() == first + 2 && tokens_[first].type == Tok::kName &&
            tokens_[first].text == "raw") {
          return Raw(begin_line);
        }
        return absl::OkStatus();
      }
      absl::Status st = ExprToken();
      if (!st.ok()) return st;
    }
  }

  // `{% raw %}...{% endraw %}`: the text in between is taken as it is.
  absl::Status Raw(int begin_line) {
    tokens_.resize(tokens_.size() - 3);  // the raw tag's own tokens
    size_t search = pos_;
    while (true) {
      size_t open = src_.find("{%", search);
      if (open == absl::string_view::npos)
        return Error(begin_line, "{% raw %} without {% endraw %}");
      size_t p = open + 2;
      char lsign = p < src_.size() ? src_[p] : 0;
      if (lsign == '-' || lsign == '+') ++p;
      while (p < src_.size() && IsSpace(src_[p])) ++p;
      if (src_.substr(p, 6) != "endraw") {
        search = open + 2;
        continue;
      }
      p += 6;
      while (p < src_.size() && IsSpace(src_[p])) ++p;
      char rsign = 0;
      if (p < src_.size() && (src_[p] == '-' || src_[p] == '+')) rsign = src_[p++];
      if (src_.substr(p, 2) != "%}") {
        search = open + 2;
        continue;
      }
      std::string text(src_.substr(pos_, open - pos_));
      ApplyRightStrip(&text);
      if (lsign == '-') {
        while (!text.empty() && IsSpace(text.back())) text.pop_back();
      } else if (lsign != '+') {
        LstripBlock(&text);
      }
      AddText(std::move(text), line_);
      CountLines(pos_, p + 2);
      pos_ = p + 2;
      SetClosing(rsign, true);
      return absl::OkStatus();
    }
  }

  absl::Status ExprToken() {
    const char c = src_[pos_];
    if (IsNameStart(c)) {
      size_t end = pos_;
      while (end < src_.size() && IsNameChar(src_[end])) ++end;
      tokens_.push_back(Token{Tok::kName, line_, std::string(src_.substr(pos_, end - pos_))});
      pos_ = end;
      return absl::OkStatus();
    }
    if (std::isdigit(static_cast<unsigned char>(c))) return Number();
    if (c == '\'' || c == '"') return String();
    static constexpr absl::string_view kTwo[] = {"//", "**", "==", "!=", "<=", ">="};
    for (absl::string_view op : kTwo) {
      if (src_.substr(pos_, 2) == op) {
        tokens_.push_back(Token{Tok::kOp, line_, std::string(op)});
        pos_ += 2;
        return absl::OkStatus();
      }
    }
    if (absl::string_view("+-*/%~<>=()[]{},.:|").find(c) != absl::string_view::npos) {
      tokens_.push_back(Token{Tok::kOp, line_, std::string(1, c)});
      ++pos_;
      return absl::OkStatus();
    }
    return Error(line_, absl::StrCat("unexpected character '", std::string(1, c), "' in a tag"));
  }

  absl::Status Number() {
    // After a '.', digits are an attribute (`xs.0`), never a float's fraction.
    const bool after_dot =
        !tokens_.empty() && tokens_.back().type == Tok::kOp && tokens_.back().text == ".";
    auto digits = [&](size_t p) {
      size_t q = p;
      while (q < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[q])) ||
                                 (src_[q] == '_' && q > p && q + 1 < src_.size() &&
                                  std::isdigit(static_cast<unsigned char>(src_[q + 1]))))) {
        ++q;
      }
      return q;
    };
    size_t end = digits(pos_);
    bool is_float = false;
    if (!after_dot && end + 1 < src_.size() && src_[end] == '.' &&
        std::isdigit(static_cast<unsigned char>(src_[end + 1]))) {
      end = digits(end + 1);
      is_float = true;
    }
    if (!after_dot && end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
      size_t q = end + 1;
      if (q < src_.size() && (src_[q] == '+' || src_[q] == '-')) ++q;
      if (q < src_.size() && std::isdigit(static_cast<unsigned char>(src_[q]))) {
        end = digits(q);
        is_float = true;
      }
    }
    std::string text;
    for (size_t i = pos_; i < end; ++i) {
      if (src_[i] != '_') text += src_[i];
    }
    Token t{is_float ? Tok::kFloat : Tok::kInt, line_, text};
    if (is_float) {
      t.f = std::strtod(text.c_str(), nullptr);
    } else {
      errno = 0;
      t.i = std::strtoll(text.c_str(), nullptr, 10);
      if (errno == ERANGE) return Error(line_, absl::StrCat("integer ", text, " is out of range"));
    }
    tokens_.push_back(std::move(t));
    pos_ = end;
    return absl::OkStatus();
  }

  absl::Status String() {
    const char quote = src_[pos_];
    const int start_line = line_;
    std::string out;
    size_t p = pos_ + 1;
    while (true) {
      if (p >= src_.size()) return Error(start_line, "unterminated string literal");
      char c = src_[p];
      if (c == quote) break;
      if (c == '\n') ++line_;
      if (c != '\\' || p + 1 >= src_.size()) {
        out += c;
        ++p;
        continue;
      }
      char e = src_[p + 1];
      p += 2;
      auto hex = [&](int n) -> int64_t {
        if (p + n > src_.size()) return -1;
        int64_t v = 0;
        for (int k = 0; k < n; ++k) {
          char h = src_[p + k];
          if (!std::isxdigit(static_cast<unsigned char>(h))) return -1;
          v = v * 16 + (std::isdigit(static_cast<unsigned char>(h)) ? h - '0'
                                                                    : (std::tolower(h) - 'a' + 10));
        }
        p += n;
        return v;
      };
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case '\\':
          out += '\\';
          break;
        case '\'':
          out += '\'';
          break;
        case '"':
          out += '"';
          break;
        case 'a':
          out += '\a';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'v':
          out += '\v';
          break;
        case '0':
          out += '\0';
          break;
        case '\n':
          ++line_;
          break;  // a line continuation
        case 'x':
        case 'u':
        case 'U': {
          int64_t cp = hex(e == 'x' ? 2 : e == 'u' ? 4 : 8);
          if (cp < 0)
            return Error(line_, absl::StrCat("bad \\", std::string(1, e), " escape in a string"));
          AppendUtf8(&out, static_cast<uint32_t>(cp));
          break;
        }
        default:  // Python keeps an unknown escape as written
          out += '\\';
          out += e;
      }
    }
    tokens_.push_back(Token{Tok::kString, start_line, std::move(out)});
    pos_ = p + 1;
    return absl::OkStatus();
  }

  absl::string_view src_;
  absl::string_view origin_;
  size_t pos_ = 0;
  int line_ = 1;
  bool strip_next_ = false;    // the previous tag closed with "-": strip all whitespace
  bool trim_next_ = false;     // the previous block tag closed plainly: drop one newline
  bool line_starting_ = true;  // the text starts a line (for lstrip_blocks)
  std::vector<Token> tokens_;
};

}  // namespace

absl::StatusOr<std::vector<Token>> Lex(absl::string_view source, absl::string_view origin) {
  // As Jinja2 reads a template: newlines normalized to "\n", one trailing newline dropped
  // (keep_trailing_newline is off).
  std::string text;
  text.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      text += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      text += source[i];
    }
  }
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return Lexer(text, origin).Run();
}

}  // namespace zerod::chat
