// The chat-template parser (parser.h): recursive descent over Jinja2's grammar, with its
// operator precedence (or < and < not < comparisons < + - < ~ < * / // % < ** < unary <
// postfix, filters and tests).
#include "engine/chat/parser.h"

#include <initializer_list>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/chat/builtins.h"
#include "engine/chat/lexer.h"
#include "engine/util/status_macros.h"

namespace zerod::chat {
namespace {

ExprPtr MakeExpr(ExprType type, int line) {
  auto e = std::make_unique<Expr>();
  e->type = type;
  e->line = line;
  return e;
}

class Parser {
 public:
  Parser(std::vector<Token> tokens, absl::string_view origin)
      : t_(std::move(tokens)), origin_(origin) {}

  absl::StatusOr<Body> Top() {
    Body body;
    std::string end;
    RETURN_IF_ERROR(ParseBody({}, &body, &end));
    return body;
  }

 private:
  absl::Status Error(int line, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(std::string(origin_), ":", line, ": ", what));
  }
  const Token& Peek(size_t ahead = 0) const { return t_[std::min(p_ + ahead, t_.size() - 1)]; }
  bool IsOp(absl::string_view op, size_t ahead = 0) const {
    return Peek(ahead).type == Tok::kOp && Peek(ahead).text == op;
  }
  bool IsName(absl::string_view name, size_t ahead = 0) const {
    return Peek(ahead).type == Tok::kName && Peek(ahead).text == name;
  }
  bool AcceptOp(absl::string_view op) {
    if (!IsOp(op)) return false;
    ++p_;
    return true;
  }
  absl::Status ExpectOp(absl::string_view op) {
    if (AcceptOp(op)) return absl::OkStatus();
    return Error(Peek().line, absl::StrCat("expected '", op, "', found ", Describe(Peek())));
  }
  static std::string Describe(const Token& t) {
    switch (t.type) {
      case Tok::kName:
        return "'" + t.text + "'";
      case Tok::kOp:
        return "'" + t.text + "'";
      case Tok::kString:
        return "a string";
      case Tok::kInt:
      case Tok::kFloat:
        return "a number";
      case Tok::kBlockEnd:
        return "the end of the tag '%}'";
      case Tok::kVarEnd:
        return "the end of the tag '}}'";
      case Tok::kEof:
        return "the end of the template";
      default:
        return "text";
    }
  }
  absl::StatusOr<std::string> ExpectName() {
    if (Peek().type != Tok::kName) {
      return Error(Peek().line, absl::StrCat("expected a name, found ", Describe(Peek())));
    }
    return t_[p_++].text;
  }
  absl::Status ExpectBlockEnd() {
    if (Peek().type == Tok::kBlockEnd) {
      ++p_;
      return absl::OkStatus();
    }
    return Error(Peek().line,
                 absl::StrCat("expected the end of the tag '%}', found ", Describe(Peek())));
  }
  absl::Status Enter(int line) {
    if (++depth_ > kMaxNesting)
      return Error(line, absl::StrCat("nested deeper than ", kMaxNesting));
    return absl::OkStatus();
  }

  // Statements up to a block tag named in `ends` (returned in *end, its name consumed but
  // not its arguments nor '%}'), or the end of the template when `ends` is empty.
  absl::Status ParseBody(std::initializer_list<absl::string_view> ends, Body* body,
                         std::string* end) {
    RETURN_IF_ERROR(Enter(Peek().line));
    const int start_line = Peek().line;
    while (true) {
      const Token& tok = Peek();
      if (tok.type == Tok::kEof) {
        if (ends.size() == 0) break;
        return Error(start_line, absl::StrCat("block opened here is never closed (expected {% ",
                                              absl::StrJoin(ends, " %} or {% "), " %})"));
      }
      if (tok.type == Tok::kText) {
        auto s = std::make_unique<Stmt>();
        s->type = StmtType::kText;
        s->line = tok.line;
        s->text = tok.text;
        body->push_back(std::move(s));
        ++p_;
      } else if (tok.type == Tok::kVarBegin) {
        ++p_;
        auto s = std::make_unique<Stmt>();
        s->type = StmtType::kOutput;
        s->line = tok.line;
        ASSIGN_OR_RETURN(s->expr, Expression());
        if (Peek().type != Tok::kVarEnd) {
          return Error(Peek().line, absl::StrCat("expected '}}', found ", Describe(Peek())));
        }
        ++p_;
        body->push_back(std::move(s));
      } else {  // kBlockBegin
        const Token& name = Peek(1);
        if (name.type != Tok::kName)
          return Error(name.line, "expected a statement name after '{%'");
        for (absl::string_view e : ends) {
          if (name.text == e) {
            p_ += 2;
            *end = name.text;
            --depth_;
            return absl::OkStatus();
          }
        }
        p_ += 2;
        RETURN_IF_ERROR(Statement(name, body));
      }
    }
    --depth_;
    return absl::OkStatus();
  }

  absl::Status Statement(const Token& name, Body* body) {
    auto s = std::make_unique<Stmt>();
    s->line = name.line;
    const std::string& n = name.text;
    std::string end;
    if (n == "if") {
      s->type = StmtType::kIf;
      ASSIGN_OR_RETURN(ExprPtr cond, Expression());
      RETURN_IF_ERROR(ExpectBlockEnd());
      while (true) {
        Body branch;
        RETURN_IF_ERROR(ParseBody({"elif", "else", "endif"}, &branch, &end));
        s->branches.emplace_back(std::move(cond), std::move(branch));
        if (end == "elif") {
          ASSIGN_OR_RETURN(cond, Expression());
          RETURN_IF_ERROR(ExpectBlockEnd());
          continue;
        }
        RETURN_IF_ERROR(ExpectBlockEnd());
        if (end == "else") {
          RETURN_IF_ERROR(ParseBody({"endif"}, &s->else_body, &end));
          RETURN_IF_ERROR(ExpectBlockEnd());
        }
        break;
      }
    } else if (n == "for") {
      s->type = StmtType::kFor;
      do {
        ASSIGN_OR_RETURN(std::string target, ExpectName());
        s->targets.push_back(std::move(target));
      } while (AcceptOp(","));
      if (!IsName("in")) return Error(Peek().line, "expected 'in' in the for loop");
      ++p_;
      ASSIGN_OR_RETURN(s->expr, OrExpr(/*no_cond=*/true));
      if (IsName("if")) {
        ++p_;
        ASSIGN_OR_RETURN(s->filter, Expression());
      }
      if (IsName("recursive")) return Error(Peek().line, "recursive for loops are not supported");
      RETURN_IF_ERROR(ExpectBlockEnd());
      RETURN_IF_ERROR(ParseBody({"else", "endfor"}, &s->body, &end));
      RETURN_IF_ERROR(ExpectBlockEnd());
      if (end == "else") {
        RETURN_IF_ERROR(ParseBody({"endfor"}, &s->else_body, &end));
        RETURN_IF_ERROR(ExpectBlockEnd());
      }
    } else if (n == "set") {
      s->type = StmtType::kSet;
      ASSIGN_OR_RETURN(std::string target, ExpectName());
      s->targets.push_back(std::move(target));
      if (AcceptOp(".")) {
        ASSIGN_OR_RETURN(std::string attr, ExpectName());
        s->targets.push_back(std::move(attr));
      } else if (IsOp(",")) {
        return Error(Peek().line, "{% set a, b = ... %} (tuple assignment) is not supported");
      }
      if (AcceptOp("=")) {
        ASSIGN_OR_RETURN(s->expr, Expression());
        RETURN_IF_ERROR(ExpectBlockEnd());
      } else {
        if (s->targets.size() != 1) return Error(s->line, "a {% set %} block needs a plain name");
        if (IsOp("|")) return Error(Peek().line, "filters on a {% set %} block are not supported");
        RETURN_IF_ERROR(ExpectBlockEnd());
        RETURN_IF_ERROR(ParseBody({"endset"}, &s->body, &end));
        RETURN_IF_ERROR(ExpectBlockEnd());
      }
    } else if (n == "macro") {
      s->type = StmtType::kMacro;
      auto m = std::make_shared<MacroNode>();
      m->line = s->line;
      ASSIGN_OR_RETURN(m->name, ExpectName());
      RETURN_IF_ERROR(ExpectOp("("));
      while (!IsOp(")")) {
        ASSIGN_OR_RETURN(std::string param, ExpectName());
        m->params.push_back(std::move(param));
        ExprPtr def;
        if (AcceptOp("=")) {
          ASSIGN_OR_RETURN(def, Expression());
        }
        m->defaults.push_back(std::move(def));
        if (!AcceptOp(",")) break;
      }
      RETURN_IF_ERROR(ExpectOp(")"));
      RETURN_IF_ERROR(ExpectBlockEnd());
      RETURN_IF_ERROR(ParseBody({"endmacro"}, &m->body, &end));
      RETURN_IF_ERROR(ExpectBlockEnd());
      s->macro = std::move(m);
    } else if (n == "break" || n == "continue") {
      s->type = n == "break" ? StmtType::kBreak : StmtType::kContinue;
      RETURN_IF_ERROR(ExpectBlockEnd());
    } else if (n == "generation") {
      // transformers' assistant-mask marker: here a plain block (chat_template.h's Note).
      s->type = StmtType::kBlock;
      RETURN_IF_ERROR(ExpectBlockEnd());
      RETURN_IF_ERROR(ParseBody({"endgeneration"}, &s->body, &end));
      RETURN_IF_ERROR(ExpectBlockEnd());
    } else {
      return Error(name.line,
                   absl::StrCat("{% ", n, " %} is not supported by zerod's chat templates",
                                " (engine/chat/template.h lists what is)"));
    }
    body->push_back(std::move(s));
    return absl::OkStatus();
  }

  // expression := or ['if' or ['else' expression]]
  absl::StatusOr<ExprPtr> Expression() {
    ASSIGN_OR_RETURN(ExprPtr e, OrExpr(false));
    return e;
  }

  absl::StatusOr<ExprPtr> OrExpr(bool no_cond) {
    RETURN_IF_ERROR(Enter(Peek().line));
    ASSIGN_OR_RETURN(ExprPtr left, Binary(0));
    if (!no_cond && IsName("if")) {
      auto c = MakeExpr(ExprType::kCond, Peek().line);
      ++p_;
      ASSIGN_OR_RETURN(ExprPtr cond, Binary(0));
      ExprPtr other;
      if (IsName("else")) {
        ++p_;
        ASSIGN_OR_RETURN(other, OrExpr(false));
      }
      c->args.push_back(std::move(left));
      c->args.push_back(std::move(cond));
      c->args.push_back(std::move(other));
      left = std::move(c);
    }
    --depth_;
    return left;
  }

  // Precedence levels: 0 or, 1 and, 2 not, 3 comparisons, 4 + -, 5 ~, 6 * / // %, 7 **.
  absl::StatusOr<ExprPtr> Binary(int level) {
    if (level == 2) {
      if (IsName("not")) {
        auto u = MakeExpr(ExprType::kUnary, Peek().line);
        ++p_;
        u->name = "not";
        RETURN_IF_ERROR(Enter(u->line));
        ASSIGN_OR_RETURN(ExprPtr x, Binary(2));
        --depth_;
        u->args.push_back(std::move(x));
        return u;
      }
      return Binary(3);
    }
    if (level == 8) return Unary();
    ASSIGN_OR_RETURN(ExprPtr left, Binary(level + 1));
    while (true) {
      std::string op;
      const int line = Peek().line;
      if (level == 0 && IsName("or")) op = "or";
      if (level == 1 && IsName("and")) op = "and";
      if (level == 3) {
        if (Peek().type == Tok::kOp &&
            (Peek().text == "==" || Peek().text == "!=" || Peek().text == "<" ||
             Peek().text == ">" || Peek().text == "<=" || Peek().text == ">=")) {
          op = Peek().text;
        } else if (IsName("in")) {
          op = "in";
        } else if (IsName("not") && IsName("in", 1)) {
          op = "not in";
          ++p_;
        }
      }
      if (level == 4 && (IsOp("+") || IsOp("-"))) op = Peek().text;
      if (level == 5 && IsOp("~")) op = "~";
      if (level == 6 && (IsOp("*") || IsOp("/") || IsOp("//") || IsOp("%"))) op = Peek().text;
      if (level == 7 && IsOp("**")) op = "**";
      if (op.empty()) return left;
      ++p_;
      ASSIGN_OR_RETURN(ExprPtr right, Binary(level + 1));
      auto b = MakeExpr(ExprType::kBinary, line);
      b->name = op;
      b->args.push_back(std::move(left));
      b->args.push_back(std::move(right));
      left = std::move(b);
    }
  }

  // Jinja2 applies the filters after a sign: `-3 | abs` is (-3) | abs.
  absl::StatusOr<ExprPtr> Unary(bool with_filters = true) {
    ExprPtr e;
    if (IsOp("-") || IsOp("+")) {
      auto u = MakeExpr(ExprType::kUnary, Peek().line);
      u->name = t_[p_++].text;
      RETURN_IF_ERROR(Enter(u->line));
      ASSIGN_OR_RETURN(ExprPtr x, Unary(false));
      --depth_;
      u->args.push_back(std::move(x));
      e = std::move(u);
    } else {
      ASSIGN_OR_RETURN(e, Primary());
    }
    return Postfix(std::move(e), with_filters);
  }

  absl::StatusOr<ExprPtr> Primary() {
    const Token& tok = Peek();
    const int line = tok.line;
    if (tok.type == Tok::kName) {
      ++p_;
      const std::string& n = tok.text;
      auto lit = MakeExpr(ExprType::kLiteral, line);
      if (n == "true" || n == "True") {
        lit->value = Value::Bool(true);
      } else if (n == "false" || n == "False") {
        lit->value = Value::Bool(false);
      } else if (n == "none" || n == "None") {
        lit->value = Value::None();
      } else {
        auto name = MakeExpr(ExprType::kName, line);
        name->name = n;
        return name;
      }
      return lit;
    }
    if (tok.type == Tok::kString) {
      auto lit = MakeExpr(ExprType::kLiteral, line);
      std::string s;
      while (Peek().type == Tok::kString) s += t_[p_++].text;  // adjacent literals join
      lit->value = Value::String(std::move(s));
      return lit;
    }
    if (tok.type == Tok::kInt || tok.type == Tok::kFloat) {
      auto lit = MakeExpr(ExprType::kLiteral, line);
      lit->value = tok.type == Tok::kInt ? Value::Int(tok.i) : Value::Float(tok.f);
      ++p_;
      return lit;
    }
    if (AcceptOp("(")) {
      RETURN_IF_ERROR(Enter(line));
      if (AcceptOp(")")) {  // the empty tuple
        --depth_;
        return MakeExpr(ExprType::kList, line);
      }
      ASSIGN_OR_RETURN(ExprPtr first, Expression());
      if (IsOp(",")) {  // a tuple: a list here
        auto list = MakeExpr(ExprType::kList, line);
        list->args.push_back(std::move(first));
        while (AcceptOp(",") && !IsOp(")")) {
          ASSIGN_OR_RETURN(ExprPtr item, Expression());
          list->args.push_back(std::move(item));
        }
        first = std::move(list);
      }
      RETURN_IF_ERROR(ExpectOp(")"));
      --depth_;
      return first;
    }
    if (AcceptOp("[")) {
      RETURN_IF_ERROR(Enter(line));
      auto list = MakeExpr(ExprType::kList, line);
      while (!IsOp("]")) {
        ASSIGN_OR_RETURN(ExprPtr item, Expression());
        list->args.push_back(std::move(item));
        if (!AcceptOp(",")) break;
      }
      RETURN_IF_ERROR(ExpectOp("]"));
      --depth_;
      return list;
    }
    if (AcceptOp("{")) {
      RETURN_IF_ERROR(Enter(line));
      auto dict = MakeExpr(ExprType::kDict, line);
      while (!IsOp("}")) {
        ASSIGN_OR_RETURN(ExprPtr key, Expression());
        RETURN_IF_ERROR(ExpectOp(":"));
        ASSIGN_OR_RETURN(ExprPtr value, Expression());
        dict->args.push_back(std::move(key));
        dict->args.push_back(std::move(value));
        if (!AcceptOp(",")) break;
      }
      RETURN_IF_ERROR(ExpectOp("}"));
      --depth_;
      return dict;
    }
    return Error(line, absl::StrCat("expected an expression, found ", Describe(tok)));
  }

  // Call arguments after '(': positional, then name=value.
  absl::Status Args(Expr* call) {
    while (!IsOp(")")) {
      if (Peek().type == Tok::kName && IsOp("=", 1)) {
        std::string key = t_[p_].text;
        p_ += 2;
        ASSIGN_OR_RETURN(ExprPtr v, Expression());
        call->kwargs.emplace_back(std::move(key), std::move(v));
      } else {
        if (IsOp("*") || IsOp("**"))
          return Error(Peek().line, "*args and **kwargs in calls are not supported");
        if (!call->kwargs.empty())
          return Error(Peek().line, "a positional argument after a keyword argument");
        ASSIGN_OR_RETURN(ExprPtr v, Expression());
        call->args.push_back(std::move(v));
      }
      if (!AcceptOp(",")) break;
    }
    return ExpectOp(")");
  }

  absl::StatusOr<ExprPtr> Postfix(ExprPtr e, bool filters) {
    while (true) {
      const int line = Peek().line;
      if (AcceptOp(".")) {
        auto a = MakeExpr(ExprType::kAttr, line);
        if (Peek().type == Tok::kInt) {  // xs.0 is xs[0]
          a->type = ExprType::kItem;
          auto idx = MakeExpr(ExprType::kLiteral, line);
          idx->value = Value::Int(t_[p_++].i);
          a->args.push_back(std::move(e));
          a->args.push_back(std::move(idx));
        } else {
          ASSIGN_OR_RETURN(a->name, ExpectName());
          a->args.push_back(std::move(e));
        }
        e = std::move(a);
      } else if (AcceptOp("[")) {
        RETURN_IF_ERROR(Enter(line));
        ExprPtr parts[3];
        int n = 0;
        bool slice = false;
        while (true) {
          if (!IsOp(":") && !IsOp("]")) {
            ASSIGN_OR_RETURN(parts[n], Expression());
          }
          if (n < 2 && AcceptOp(":")) {
            slice = true;
            ++n;
            continue;
          }
          break;
        }
        RETURN_IF_ERROR(ExpectOp("]"));
        --depth_;
        auto s = MakeExpr(slice ? ExprType::kSlice : ExprType::kItem, line);
        if (!slice && parts[0] == nullptr) return Error(line, "empty subscript []");
        s->args.push_back(std::move(e));
        for (int k = 0; k < (slice ? 3 : 1); ++k) s->args.push_back(std::move(parts[k]));
        e = std::move(s);
      } else if (AcceptOp("(")) {
        RETURN_IF_ERROR(Enter(line));
        auto c = MakeExpr(ExprType::kCall, line);
        c->args.push_back(std::move(e));
        RETURN_IF_ERROR(Args(c.get()));
        --depth_;
        e = std::move(c);
      } else if (filters && AcceptOp("|")) {
        auto f = MakeExpr(ExprType::kFilter, line);
        ASSIGN_OR_RETURN(f->name, ExpectName());
        if (!IsKnownFilter(f->name)) {
          return Error(line, absl::StrCat("filter '", f->name,
                                          "' is not supported by zerod's chat templates"));
        }
        f->args.push_back(std::move(e));
        if (AcceptOp("(")) {
          RETURN_IF_ERROR(Enter(line));
          RETURN_IF_ERROR(Args(f.get()));
          --depth_;
        }
        e = std::move(f);
      } else if (filters && IsName("is")) {
        ++p_;
        auto t = MakeExpr(ExprType::kTest, line);
        if (IsName("not")) {
          ++p_;
          t->negated = true;
        }
        ASSIGN_OR_RETURN(t->name, ExpectName());
        if (!IsKnownTest(t->name)) {
          return Error(line, absl::StrCat("test 'is ", t->name,
                                          "' is not supported by zerod's chat templates"));
        }
        t->args.push_back(std::move(e));
        if (AcceptOp("(")) {
          RETURN_IF_ERROR(Enter(line));
          RETURN_IF_ERROR(Args(t.get()));
          --depth_;
        } else if (Peek().type == Tok::kString || Peek().type == Tok::kInt ||
                   Peek().type == Tok::kFloat ||
                   (Peek().type == Tok::kName && !IsName("else") && !IsName("or") &&
                    !IsName("and") && !IsName("if") && !IsName("not") && !IsName("in") &&
                    !IsName("is"))) {
          // `x is divisibleby 3`, `x is sameas none`: one argument without brackets.
          ASSIGN_OR_RETURN(ExprPtr arg, Primary());
          ASSIGN_OR_RETURN(arg, Postfix(std::move(arg), /*filters=*/false));
          t->args.push_back(std::move(arg));
        }
        e = std::move(t);
      } else {
        return e;
      }
    }
  }

  std::vector<Token> t_;
  absl::string_view origin_;
  size_t p_ = 0;
  int depth_ = 0;
};

}  // namespace

absl::StatusOr<std::shared_ptr<const ParsedTemplate>> Parse(absl::string_view source,
                                                            std::string origin) {
  ASSIGN_OR_RETURN(std::vector<Token> tokens, Lex(source, origin));
  auto parsed = std::make_shared<ParsedTemplate>();
  parsed->origin = std::move(origin);
  Parser parser(std::move(tokens), parsed->origin);
  ASSIGN_OR_RETURN(parsed->body, parser.Top());
  return std::shared_ptr<const ParsedTemplate>(std::move(parsed));
}

}  // namespace zerod::chat
