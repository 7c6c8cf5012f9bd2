// Template::Render (template.h): walks the parsed tree, with Jinja2's scoping (each loop
// iteration and each macro call a frame of its own; `set` writes the innermost frame;
// a macro sees its parameters, the template's top-level names and the variables, not its
// caller's loop) and its operators on Python values.
#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/chat/ast.h"
#include "engine/chat/builtins.h"
#include "engine/chat/parser.h"
#include "engine/chat/template.h"
#include "engine/util/status_macros.h"

namespace zerod::chat {
namespace {

enum class Flow { kNormal, kBreak, kContinue };
using Frame = std::vector<std::pair<std::string, Value>>;

// The error message of a use of Undefined: Jinja2's wording.
std::string UndefinedMessage(const Value& v) { return v.s.empty() ? "a value is undefined" : v.s; }

class Renderer {
 public:
  Renderer(const ParsedTemplate& t, const RenderRequest& req) : t_(t), req_(req) {
    frames_.emplace_back();  // 0: the variables (looked up in req_.variables)
    frames_.emplace_back();  // 1: the template's top level
    out_ = &top_;
  }

  absl::StatusOr<std::string> Run() {
    RETURN_IF_ERROR(Exec(t_.body).status());  // a stray break ends the template early
    return std::move(top_);
  }

 private:
  absl::Status Error(int line, const std::string& what) const {
    return absl::InvalidArgumentError(absl::StrCat(t_.origin, ":", line, ": ", what));
  }
  // Adds the template's name and line to a builtin's error, keeping raise_exception's mark.
  absl::Status At(int line, const absl::Status& st) const {
    if (st.GetPayload(kRaisedPayload).has_value()) {
      absl::Status out = Error(line, absl::StrCat("raise_exception: ", st.message()));
      out.SetPayload(kRaisedPayload, *st.GetPayload(kRaisedPayload));
      return out;
    }
    if (absl::StartsWith(st.message(), t_.origin + ":")) return st;
    return Error(line, std::string(st.message()));
  }
  absl::Status Step(int line) {
    if (++steps_ > req_.limits.max_steps) {
      return Error(line, absl::StrCat("more than ", req_.limits.max_steps,
                                      " loop iterations and macro calls"));
    }
    return absl::OkStatus();
  }
  absl::Status Emit(int line, absl::string_view s) {
    if (out_->size() + s.size() > req_.limits.max_output_bytes) {
      return Error(line,
                   absl::StrCat("the output exceeds ", req_.limits.max_output_bytes, " bytes"));
    }
    out_->append(s.data(), s.size());
    return absl::OkStatus();
  }

  Value Lookup(const std::string& name) const {
    for (size_t i = frames_.size(); i-- > floor_;) {
      for (const auto& [k, v] : frames_[i]) {
        if (k == name) return v;
      }
    }
    if (floor_ > 1) {
      for (const auto& [k, v] : frames_[1]) {
        if (k == name) return v;
      }
    }
    if (req_.variables != nullptr) {
      if (const Value* v = req_.variables->Find(name)) return *v;
    }
    if (IsGlobalFunction(name)) return Value::Function(name);
    return Value::Undefined(absl::StrCat("'", name, "' is undefined"));
  }

  void Assign(const std::string& name, Value v) {
    Frame& f = frames_.back();
    for (auto& [k, x] : f) {
      if (k == name) {
        x = std::move(v);
        return;
      }
    }
    f.emplace_back(name, std::move(v));
  }

  absl::StatusOr<Flow> Exec(const Body& body) {
    for (const auto& s : body) {
      ASSIGN_OR_RETURN(Flow flow, ExecStmt(*s));
      if (flow != Flow::kNormal) return flow;
    }
    return Flow::kNormal;
  }

  absl::StatusOr<Flow> ExecStmt(const Stmt& s) {
    switch (s.type) {
      case StmtType::kText:
        RETURN_IF_ERROR(Emit(s.line, s.text));
        return Flow::kNormal;
      case StmtType::kOutput: {
        ASSIGN_OR_RETURN(Value v, Eval(*s.expr));
        RETURN_IF_ERROR(Emit(s.line, ToStr(v)));
        return Flow::kNormal;
      }
      case StmtType::kIf:
        for (const auto& [cond, body] : s.branches) {
          ASSIGN_OR_RETURN(Value c, Eval(*cond));
          if (Truthy(c)) return Exec(body);
        }
        return Exec(s.else_body);
      case StmtType::kFor:
        return For(s);
      case StmtType::kSet:
        return Set(s);
      case StmtType::kMacro: {
        Value m;
        m.kind = Kind::kMacro;
        m.macro = s.macro;
        Assign(s.macro->name, std::move(m));
        return Flow::kNormal;
      }
      case StmtType::kBreak:
        return Flow::kBreak;
      case StmtType::kContinue:
        return Flow::kContinue;
      case StmtType::kBlock:
        return Exec(s.body);
    }
    return Flow::kNormal;
  }

  absl::StatusOr<Flow> Set(const Stmt& s) {
    Value v;
    if (s.expr) {
      ASSIGN_OR_RETURN(v, Eval(*s.expr));
    } else {
      ASSIGN_OR_RETURN(v, Capture(s.body));
    }
    if (s.targets.size() == 1) {
      Assign(s.targets[0], std::move(v));
      return Flow::kNormal;
    }
    Value ns = Lookup(s.targets[0]);
    if (ns.kind != Kind::kNamespace) {
      return Error(s.line, absl::StrCat("cannot set '", s.targets[1], "' on '", s.targets[0],
                                        "': it is a ", TypeName(ns), ", not a namespace()"));
    }
    if (absl::StartsWith(s.targets[1], "_")) {
      return Error(s.line, "namespace attributes cannot start with '_'");
    }
    ns.ns->Set(s.targets[1], std::move(v));
    return Flow::kNormal;
  }

  // Renders `body` into a string of its own (set blocks, macro calls).
  absl::StatusOr<Value> Capture(const Body& body) {
    std::string buffer;
    std::string* saved = out_;
    out_ = &buffer;
    auto flow = Exec(body);
    out_ = saved;
    RETURN_IF_ERROR(flow.status());
    return Value::String(std::move(buffer));
  }

  absl::StatusOr<Flow> For(const Stmt& s) {
    ASSIGN_OR_RETURN(Value seq, Eval(*s.expr));
    List items;
    switch (seq.kind) {
      case Kind::kUndefined:
        break;
      case Kind::kList:
        items = *seq.list;
        break;
      case Kind::kDict:
        for (const auto& [k, v] : seq.dict->items()) items.push_back(Value::String(k));
        break;
      case Kind::kString:
        for (absl::string_view cp : CodePoints(seq.s))
          items.push_back(Value::String(std::string(cp)));
        break;
      default:
        return Error(s.line, absl::StrCat("'", TypeName(seq), "' object is not iterable"));
    }
    // Unpack (k, v) targets and apply the loop's `if` filter first: loop.length counts
    // what passes it, as in Jinja2.
    std::vector<Frame> bound;
    for (const Value& item : items) {
      RETURN_IF_ERROR(Step(s.line));
      Frame f;
      if (s.targets.size() == 1) {
        f.emplace_back(s.targets[0], item);
      } else {
        if (!item.is_list() || item.list->size() != s.targets.size()) {
          return Error(s.line, absl::StrCat("cannot unpack ", Repr(item), " into ",
                                            s.targets.size(), " names"));
        }
        for (size_t k = 0; k < s.targets.size(); ++k) f.emplace_back(s.targets[k], (*item.list)[k]);
      }
      if (s.filter) {
        frames_.push_back(f);
        auto keep = Eval(*s.filter);
        frames_.pop_back();
        RETURN_IF_ERROR(keep.status());
        if (!Truthy(*keep)) continue;
      }
      f.emplace_back("\x01item", item);  // the item itself, for the loop variable and the trace
      bound.push_back(std::move(f));
    }
    if (bound.empty()) return Exec(s.else_body);
    const int64_t n = int64_t(bound.size());
    for (int64_t i = 0; i < n; ++i) {
      RETURN_IF_ERROR(Step(s.line));
      Frame f = bound[i];
      const Value item = f.back().second;
      f.pop_back();
      Dict loop;
      loop.Set("index", Value::Int(i + 1));
      loop.Set("index0", Value::Int(i));
      loop.Set("revindex", Value::Int(n - i));
      loop.Set("revindex0", Value::Int(n - i - 1));
      loop.Set("first", Value::Bool(i == 0));
      loop.Set("last", Value::Bool(i == n - 1));
      loop.Set("length", Value::Int(n));
      loop.Set("depth", Value::Int(1));
      loop.Set("depth0", Value::Int(0));
      if (i > 0) loop.Set("previtem", bound[i - 1].back().second);
      if (i + 1 < n) loop.Set("nextitem", bound[i + 1].back().second);
      f.emplace_back("loop", Value::MakeDict(std::move(loop)));
      const bool traced = req_.traced_items != nullptr && !in_traced_ && out_ == &top_ &&
                          item.kind == Kind::kDict && req_.traced_items->contains(item.dict.get());
      const size_t begin = top_.size();
      if (traced) in_traced_ = true;
      frames_.push_back(std::move(f));
      auto flow = Exec(s.body);
      frames_.pop_back();
      if (traced) {
        in_traced_ = false;
        if (req_.trace != nullptr) req_.trace->push_back({item.dict.get(), begin, top_.size()});
      }
      RETURN_IF_ERROR(flow.status());
      if (*flow == Flow::kBreak) break;
    }
    return Flow::kNormal;
  }

  absl::StatusOr<Value> Eval(const Expr& e);
  absl::StatusOr<Value> EvalBinary(const Expr& e);
  absl::StatusOr<Value> Arith(const std::string& op, const Value& a, const Value& b);
  absl::StatusOr<Value> EvalCall(const Expr& e);
  absl::StatusOr<Value> CallMacro(const Expr& e, const MacroNode& m, const List& args,
                                  const KwArgs& kwargs);
  absl::Status EvalArgs(const Expr& e, size_t first, List* args, KwArgs* kwargs) {
    for (size_t i = first; i < e.args.size(); ++i) {
      ASSIGN_OR_RETURN(Value v, Eval(*e.args[i]));
      args->push_back(std::move(v));
    }
    for (const auto& [k, x] : e.kwargs) {
      ASSIGN_OR_RETURN(Value v, Eval(*x));
      kwargs->emplace_back(k, std::move(v));
    }
    return absl::OkStatus();
  }

  const ParsedTemplate& t_;
  const RenderRequest& req_;
  std::vector<Frame> frames_;
  size_t floor_ = 1;  // frames below this (but 0 and 1) are a macro's caller's: invisible
  std::string top_;
  std::string* out_;
  int64_t steps_ = 0;
  int call_depth_ = 0;
  bool in_traced_ = false;
};

absl::StatusOr<Value> Renderer::Eval(const Expr& e) {
  switch (e.type) {
    case ExprType::kLiteral:
      return e.value;
    case ExprType::kName:
      return Lookup(e.name);
    case ExprType::kList: {
      List items;
      for (const auto& a : e.args) {
        ASSIGN_OR_RETURN(Value v, Eval(*a));
        items.push_back(std::move(v));
      }
      return Value::MakeList(std::move(items));
    }
    case ExprType::kDict: {
      Dict d;
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        ASSIGN_OR_RETURN(Value k, Eval(*e.args[i]));
        if (!k.is_string()) return Error(e.line, "dict keys must be strings here");
        ASSIGN_OR_RETURN(Value v, Eval(*e.args[i + 1]));
        d.Set(k.s, std::move(v));
      }
      return Value::MakeDict(std::move(d));
    }
    case ExprType::kAttr: {
      ASSIGN_OR_RETURN(Value obj, Eval(*e.args[0]));
      if (obj.is_undefined()) return Error(e.line, UndefinedMessage(obj));
      return GetAttr(obj, e.name);
    }
    case ExprType::kItem: {
      ASSIGN_OR_RETURN(Value obj, Eval(*e.args[0]));
      if (obj.is_undefined()) return Error(e.line, UndefinedMessage(obj));
      ASSIGN_OR_RETURN(Value key, Eval(*e.args[1]));
      auto v = GetItem(obj, key);
      if (!v.ok()) return At(e.line, v.status());
      return v;
    }
    case ExprType::kSlice: {
      ASSIGN_OR_RETURN(Value obj, Eval(*e.args[0]));
      if (obj.is_undefined()) return Error(e.line, UndefinedMessage(obj));
      Value bounds[3];
      for (int k = 0; k < 3; ++k) {
        if (e.args[k + 1]) {
          ASSIGN_OR_RETURN(bounds[k], Eval(*e.args[k + 1]));
        }
      }
      auto v = Slice(obj, bounds[0], bounds[1], bounds[2]);
      if (!v.ok()) return At(e.line, v.status());
      return v;
    }
    case ExprType::kCall:
      return EvalCall(e);
    case ExprType::kFilter: {
      ASSIGN_OR_RETURN(Value in, Eval(*e.args[0]));
      List args;
      KwArgs kwargs;
      RETURN_IF_ERROR(EvalArgs(e, 1, &args, &kwargs));
      auto v = ApplyFilter(e.name, in, args, kwargs);
      if (!v.ok()) return At(e.line, v.status());
      return v;
    }
    case ExprType::kTest: {
      ASSIGN_OR_RETURN(Value in, Eval(*e.args[0]));
      List args;
      KwArgs kwargs;
      RETURN_IF_ERROR(EvalArgs(e, 1, &args, &kwargs));
      auto v = ApplyTest(e.name, in, args);
      if (!v.ok()) return At(e.line, v.status());
      return Value::Bool(*v != e.negated);
    }
    case ExprType::kUnary: {
      ASSIGN_OR_RETURN(Value x, Eval(*e.args[0]));
      if (e.name == "not") return Value::Bool(!Truthy(x));
      if (x.is_undefined()) return Error(e.line, UndefinedMessage(x));
      if (x.kind == Kind::kFloat) return Value::Float(e.name == "-" ? -x.f : x.f);
      if (x.kind == Kind::kInt || x.kind == Kind::kBool) {
        if (e.name == "+") return Value::Int(x.AsInt());
        if (x.AsInt() == INT64_MIN) return Error(e.line, "integer overflow");
        return Value::Int(-x.AsInt());
      }
      return Error(e.line,
                   absl::StrCat("bad operand type for unary ", e.name, ": '", TypeName(x), "'"));
    }
    case ExprType::kBinary:
      return EvalBinary(e);
    case ExprType::kCond: {
      ASSIGN_OR_RETURN(Value c, Eval(*e.args[1]));
      if (Truthy(c)) return Eval(*e.args[0]);
      if (e.args[2]) return Eval(*e.args[2]);
      return Value::Undefined("the conditional expression has no else");
    }
  }
  return Error(e.line, "unknown expression");
}

absl::StatusOr<Value> Renderer::EvalBinary(const Expr& e) {
  const std::string& op = e.name;
  ASSIGN_OR_RETURN(Value a, Eval(*e.args[0]));
  if (op == "and") return Truthy(a) ? Eval(*e.args[1]) : a;
  if (op == "or") return Truthy(a) ? a : Eval(*e.args[1]);
  ASSIGN_OR_RETURN(Value b, Eval(*e.args[1]));
  if (op == "==") return Value::Bool(Equal(a, b));
  if (op == "!=") return Value::Bool(!Equal(a, b));
  if (op == "~") {
    std::string s = ToStr(a) + ToStr(b);
    if (s.size() > kMaxValueBytes) return Error(e.line, "the string is too long");
    return Value::String(std::move(s));
  }
  if (op == "in" || op == "not in") {
    bool found = false;
    if (b.is_string()) {
      if (!a.is_string())
        return Error(e.line, absl::StrCat("'in <string>' requires a string, not ", TypeName(a)));
      found = b.s.find(a.s) != std::string::npos;
    } else if (b.is_list()) {
      for (const Value& x : *b.list) found = found || Equal(x, a);
    } else if (b.is_mapping()) {
      found =
          a.is_string() && (b.kind == Kind::kDict ? b.dict->Find(a.s) : b.ns->Find(a.s)) != nullptr;
    } else if (!b.is_undefined()) {
      return Error(e.line, absl::StrCat("argument of type '", TypeName(b), "' is not iterable"));
    }
    return Value::Bool(found == (op == "in"));
  }
  for (const Value* x : {&a, &b}) {
    if (x->is_undefined()) return Error(e.line, UndefinedMessage(*x));
  }
  auto v = Arith(op, a, b);
  if (!v.ok()) return At(e.line, v.status());
  return v;
}

absl::StatusOr<Value> Renderer::Arith(const std::string& op, const Value& a, const Value& b) {
  auto type_error = [&]() {
    return absl::InvalidArgumentError(absl::StrCat("unsupported operand type(s) for ", op, ": '",
                                                   TypeName(a), "' and '", TypeName(b), "'"));
  };
  if (op == "<" || op == ">" || op == "<=" || op == ">=") {
    int cmp;
    if (a.is_number() && b.is_number()) {
      double x = a.AsDouble(), y = b.AsDouble();
      if (a.kind != Kind::kFloat && b.kind != Kind::kFloat) {
        cmp = a.AsInt() < b.AsInt() ? -1 : a.AsInt() > b.AsInt();
      } else {
        if (std::isnan(x) || std::isnan(y)) return Value::Bool(false);
        cmp = x < y ? -1 : x > y;
      }
    } else if (a.is_string() && b.is_string()) {
      cmp = a.s.compare(b.s);
    } else {
      return absl::InvalidArgumentError(absl::StrCat("'", op,
                                                     "' not supported between instances of '",
                                                     TypeName(a), "' and '", TypeName(b), "'"));
    }
    bool r = op == "<" ? cmp < 0 : op == ">" ? cmp > 0 : op == "<=" ? cmp <= 0 : cmp >= 0;
    return Value::Bool(r);
  }
  if (op == "+" && a.is_string() && b.is_string()) {
    if (a.s.size() + b.s.size() > kMaxValueBytes)
      return absl::InvalidArgumentError("the string is too long");
    return Value::String(a.s + b.s);
  }
  if (op == "+" && a.is_list() && b.is_list()) {
    if (a.list->size() + b.list->size() > kMaxListItems)
      return absl::InvalidArgumentError("the list is too long");
    List items = *a.list;
    items.insert(items.end(), b.list->begin(), b.list->end());
    return Value::MakeList(std::move(items));
  }
  if (op == "*" && (a.is_string() || a.is_list() || b.is_string() || b.is_list())) {
    const Value& seq = (a.is_string() || a.is_list()) ? a : b;
    const Value& count = &seq == &a ? b : a;
    if (count.kind != Kind::kInt && count.kind != Kind::kBool) return type_error();
    int64_t n = std::max<int64_t>(0, count.AsInt());
    size_t unit = seq.is_string() ? seq.s.size() : seq.list->size();
    if (unit != 0 && uint64_t(n) > (seq.is_string() ? kMaxValueBytes : kMaxListItems) / unit) {
      return absl::InvalidArgumentError("the repeated value is too long");
    }
    if (seq.is_string()) {
      std::string s;
      for (int64_t k = 0; k < n; ++k) s += seq.s;
      return Value::String(std::move(s));
    }
    List items;
    for (int64_t k = 0; k < n; ++k) items.insert(items.end(), seq.list->begin(), seq.list->end());
    return Value::MakeList(std::move(items));
  }
  if (!a.is_number() || !b.is_number()) {
    if (op == "+" && a.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("can only concatenate str (not \"", TypeName(b), "\") to str"));
    }
    if (op == "%" && a.is_string())
      return absl::InvalidArgumentError("'%' string formatting is not supported");
    return type_error();
  }
  const bool ints = a.kind != Kind::kFloat && b.kind != Kind::kFloat;
  if (ints && op != "/") {
    int64_t x = a.AsInt(), y = b.AsInt(), r = 0;
    bool overflow = false;
    if (op == "+") overflow = __builtin_add_overflow(x, y, &r);
    if (op == "-") overflow = __builtin_sub_overflow(x, y, &r);
    if (op == "*") overflow = __builtin_mul_overflow(x, y, &r);
    if (op == "//" || op == "%") {
      if (y == 0) return absl::InvalidArgumentError("integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) return absl::InvalidArgumentError("integer overflow");
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {  // Python floors
        q -= 1;
        m += y;
      }
      r = op == "//" ? q : m;
    }
    if (op == "**") {
      if (y < 0) return Value::Float(std::pow(double(x), double(y)));
      r = 1;
      for (int64_t k = 0; k < y && !overflow; ++k) {
        overflow = __builtin_mul_overflow(r, x, &r);
        if (r == 0 || r == 1) break;  // 0 and 1 stay; -1 alternates, handled by parity below
      }
      if (x == -1) r = (y % 2) ? -1 : 1;
    }
    if (overflow) return absl::InvalidArgumentError("integer overflow (zerod's ints are 64-bit)");
    return Value::Int(r);
  }
  double x = a.AsDouble(), y = b.AsDouble();
  if (op == "+") return Value::Float(x + y);
  if (op == "-") return Value::Float(x - y);
  if (op == "*") return Value::Float(x * y);
  if (op == "**") return Value::Float(std::pow(x, y));
  if (y == 0) return absl::InvalidArgumentError("division by zero");
  if (op == "/") return Value::Float(x / y);
  double q = std::floor(x / y);
  if (op == "//") return Value::Float(q);
  double m = std::fmod(x, y);
  if (m != 0 && ((m < 0) != (y < 0))) m += y;
  return Value::Float(m);  // %
}

absl::StatusOr<Value> Renderer::EvalCall(const Expr& e) {
  ASSIGN_OR_RETURN(Value fn, Eval(*e.args[0]));
  List args;
  KwArgs kwargs;
  RETURN_IF_ERROR(EvalArgs(e, 1, &args, &kwargs));
  switch (fn.kind) {
    case Kind::kMacro:
      return CallMacro(e, *fn.macro, args, kwargs);
    case Kind::kFunction:
    case Kind::kMethod: {
      auto v = CallBuiltin(fn, args, kwargs, req_.now);
      if (!v.ok()) return At(e.line, v.status());
      return v;
    }
    case Kind::kUndefined:
      return Error(e.line, UndefinedMessage(fn));
    default:
      return Error(e.line, absl::StrCat("'", TypeName(fn), "' object is not callable"));
  }
}

absl::StatusOr<Value> Renderer::CallMacro(const Expr& e, const MacroNode& m, const List& args,
                                          const KwArgs& kwargs) {
  RETURN_IF_ERROR(Step(e.line));
  if (args.size() > m.params.size()) {
    return Error(e.line, absl::StrCat("macro '", m.name, "' takes ", m.params.size(),
                                      " arguments, given ", args.size()));
  }
  if (call_depth_ >= req_.limits.max_call_depth) {
    return Error(e.line,
                 absl::StrCat("macro calls nested deeper than ", req_.limits.max_call_depth));
  }
  Frame f;
  for (size_t i = 0; i < m.params.size(); ++i) {
    const Value* given = i < args.size() ? &args[i] : nullptr;
    for (const auto& [k, v] : kwargs) {
      if (k == m.params[i]) given = &v;
    }
    if (given != nullptr) {
      f.emplace_back(m.params[i], *given);
    } else if (m.defaults[i]) {
      ASSIGN_OR_RETURN(Value v, Eval(*m.defaults[i]));
      f.emplace_back(m.params[i], std::move(v));
    } else {
      f.emplace_back(m.params[i],
                     Value::Undefined(absl::StrCat("'", m.params[i], "' is undefined")));
    }
  }
  for (const auto& [k, v] : kwargs) {
    if (std::find(m.params.begin(), m.params.end(), k) == m.params.end()) {
      return Error(e.line, absl::StrCat("macro '", m.name, "' has no parameter '", k, "'"));
    }
  }
  const size_t saved_floor = floor_;
  floor_ = frames_.size();
  frames_.push_back(std::move(f));
  ++call_depth_;
  auto out = Capture(m.body);
  --call_depth_;
  frames_.pop_back();
  floor_ = saved_floor;
  return out;
}

}  // namespace

absl::StatusOr<Template> Template::Parse(absl::string_view source, std::string origin) {
  ASSIGN_OR_RETURN(auto parsed, zerod::chat::Parse(source, std::move(origin)));
  return Template(std::move(parsed));
}

absl::StatusOr<std::string> Template::Render(const RenderRequest& request) const {
  return Renderer(*parsed_, request).Run();
}

const std::string& Template::origin() const { return parsed_->origin; }

}  // namespace zerod::chat
