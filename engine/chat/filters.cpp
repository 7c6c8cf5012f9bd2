// builtins.h's filters and tests, as Jinja2 3.1 defines them (transformers overrides only
// tojson).
#include <algorithm>
#include <cmath>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/chat/builtins.h"
#include "engine/chat/strings.h"
#include "engine/util/status_macros.h"

namespace zerod::chat {
namespace {

absl::Status TypeError(const std::string& what) { return absl::InvalidArgumentError(what); }

constexpr absl::string_view kFilters[] = {
    "abs",     "attr",   "capitalize", "count",  "d",          "default",  "e",          "escape",
    "first",   "float",  "indent",     "int",    "items",      "join",     "last",       "length",
    "list",    "lower",  "map",        "max",    "min",        "reject",   "rejectattr", "replace",
    "reverse", "round",  "safe",       "select", "selectattr", "sort",     "string",     "sum",
    "title",   "tojson", "trim",       "unique", "upper",      "wordcount"};
constexpr absl::string_view kTests[] = {
    "boolean", "callable",  "defined", "divisibleby", "eq",     "equalto",     "escaped",
    "even",    "false",     "float",   "ge",          "gt",     "greaterthan", "in",
    "integer", "iterable",  "le",      "lower",       "lt",     "lessthan",    "mapping",
    "ne",      "none",      "number",  "odd",         "sameas", "sequence",    "string",
    "true",    "undefined", "upper",   "==",          "!=",     "<",           ">",
    "<=",      ">="};

template <size_t N>
bool In(const absl::string_view (&names)[N], absl::string_view n) {
  return std::find(std::begin(names), std::end(names), n) != std::end(names);
}

// A filter's argument by position or keyword; `fallback` when absent.
Value Arg(const List& args, const KwArgs& kwargs, size_t pos, absl::string_view name,
          const Value& fallback) {
  for (const auto& [k, v] : kwargs) {
    if (k == name) return v;
  }
  return pos < args.size() ? args[pos] : fallback;
}

// What `for x in v` visits: list items, dict keys, string code points; undefined: nothing.
absl::StatusOr<List> Items(const Value& v) {
  switch (v.kind) {
    case Kind::kUndefined:
      return List{};
    case Kind::kList:
      return *v.list;
    case Kind::kDict: {
      List keys;
      for (const auto& [k, x] : v.dict->items()) keys.push_back(Value::String(k));
      return keys;
    }
    case Kind::kString: {
      List cps;
      for (absl::string_view cp : CodePoints(v.s)) cps.push_back(Value::String(std::string(cp)));
      return cps;
    }
    default:
      return TypeError(absl::StrCat("'", TypeName(v), "' object is not iterable"));
  }
}

// Python's < for sorting, min and max: numbers with numbers, strings with strings.
absl::StatusOr<bool> Less(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a.AsDouble() < b.AsDouble();
  if (a.is_string() && b.is_string()) return a.s < b.s;
  return TypeError(absl::StrCat("'<' not supported between instances of '", TypeName(a), "' and '",
                                TypeName(b), "'"));
}

// Jinja2 compares strings case-insensitively in sort, unique, min and max by default.
Value SortKey(const Value& v, bool case_sensitive) {
  if (v.is_string() && !case_sensitive) return Value::String(AsciiLower(v.s));
  return v;
}

Value Attribute(const Value& item, const std::string& path) {
  Value v = item;
  size_t pos = 0;
  while (true) {  // "a.b" walks nested attributes
    size_t dot = path.find('.', pos);
    std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
    auto got = GetItem(v, Value::String(part));
    v = got.ok() ? *got : Value::Undefined(part);
    if (dot == std::string::npos) return v;
    pos = dot + 1;
  }
}

// A float truncated to an integer, as Python's int(); past int64 (Python's would be a big
// integer) it is refused as an overflow, like the arithmetic's.
absl::StatusOr<Value> Truncated(double d) {
  constexpr double kTwo63 = 9223372036854775808.0;  // 2^63, exact as a double
  if (!(d >= -kTwo63 && d < kTwo63))
    return TypeError("int: integer overflow (zerod's ints are 64-bit)");
  return Value::Int(int64_t(d));
}

absl::StatusOr<Value> Number(const Value& v, bool to_int, const Value& fallback) {
  if (v.kind == Kind::kInt || v.kind == Kind::kBool) {
    return to_int ? Value::Int(v.AsInt()) : Value::Float(double(v.AsInt()));
  }
  if (v.kind == Kind::kFloat) {
    if (!to_int) return v;
    if (!std::isfinite(v.f)) return fallback;
    return Truncated(v.f);
  }
  if (v.is_string()) {
    std::string t = PyStrip(v.s, std::nullopt, true, true);
    t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
    if (t.empty()) return fallback;
    char* end = nullptr;
    if (to_int) {
      errno = 0;
      long long x = std::strtoll(t.c_str(), &end, 10);
      if (*end == 0 && errno == 0) return Value::Int(x);
    }
    double d = std::strtod(t.c_str(), &end);
    if (*end != 0) return fallback;
    if (!to_int) return Value::Float(d);
    if (!std::isfinite(d)) return fallback;
    return Truncated(d);
  }
  return fallback;
}

std::string Escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

absl::StatusOr<Value> Select(absl::string_view name, const Value& input, const List& args,
                             const KwArgs& kwargs) {
  const bool by_attr = name == "selectattr" || name == "rejectattr";
  const bool keep = name == "select" || name == "selectattr";
  size_t first = 0;
  std::string attr;
  if (by_attr) {
    if (args.empty() || !args[0].is_string())
      return TypeError(absl::StrCat(name, " needs an attribute name"));
    attr = args[0].s;
    first = 1;
  }
  std::string test;
  if (args.size() > first) {
    if (!args[first].is_string())
      return TypeError(absl::StrCat(name, ": the test must be named by a string"));
    test = args[first].s;
    if (!IsKnownTest(test)) return TypeError(absl::StrCat("test '", test, "' is not supported"));
  }
  List test_args(args.begin() + std::min(args.size(), first + 1), args.end());
  ASSIGN_OR_RETURN(List items, Items(input));
  List out;
  for (const Value& item : items) {
    Value x = by_attr ? Attribute(item, attr) : item;
    bool ok;
    if (test.empty()) {
      ok = Truthy(x);
    } else {
      ASSIGN_OR_RETURN(ok, ApplyTest(test, x, test_args));
    }
    if (ok == keep) out.push_back(item);
  }
  (void)kwargs;
  return Value::MakeList(std::move(out));
}

absl::StatusOr<Value> Map(const Value& input, const List& args, const KwArgs& kwargs) {
  ASSIGN_OR_RETURN(List items, Items(input));
  List out;
  const Value none;
  const Value attr = Arg({}, kwargs, 99, "attribute", none);
  if (attr.is_string()) {
    const Value dflt = Arg({}, kwargs, 99, "default", none);
    for (const Value& item : items) {
      Value v = Attribute(item, attr.s);
      out.push_back(v.is_undefined() && !dflt.is_undefined() ? dflt : v);
    }
    return Value::MakeList(std::move(out));
  }
  if (args.empty() || !args[0].is_string())
    return TypeError("map needs a filter name or attribute=");
  if (!IsKnownFilter(args[0].s) || args[0].s == "map") {
    return TypeError(absl::StrCat("map: filter '", args[0].s, "' is not supported"));
  }
  List rest(args.begin() + 1, args.end());
  for (const Value& item : items) {
    ASSIGN_OR_RETURN(Value v, ApplyFilter(args[0].s, item, rest, {}));
    out.push_back(std::move(v));
  }
  return Value::MakeList(std::move(out));
}

absl::StatusOr<Value> Sorted(const Value& input, const List& args, const KwArgs& kwargs,
                             absl::string_view name) {
  ASSIGN_OR_RETURN(List items, Items(input));
  const Value none;
  const bool reverse = name == "sort" && Truthy(Arg(args, kwargs, 0, "reverse", none));
  const bool cs = Truthy(Arg(args, kwargs, name == "sort" ? 1 : 0, "case_sensitive", none));
  const Value attr = Arg(args, kwargs, name == "sort" ? 2 : 1, "attribute", none);
  auto key = [&](const Value& v) {
    return SortKey(attr.is_string() ? Attribute(v, attr.s) : v, cs);
  };
  absl::Status error;
  auto less = [&](const Value& a, const Value& b) {
    auto r = Less(key(a), key(b));
    if (!r.ok()) {
      error = r.status();
      return false;
    }
    return *r;
  };
  if (name == "sort") {
    std::stable_sort(items.begin(), items.end(), less);
    if (reverse) std::reverse(items.begin(), items.end());
    RETURN_IF_ERROR(error);
    return Value::MakeList(std::move(items));
  }
  if (items.empty()) return Value::Undefined("min/max of an empty sequence");
  auto it = name == "min" ? std::min_element(items.begin(), items.end(), less)
                          : std::max_element(items.begin(), items.end(), less);
  RETURN_IF_ERROR(error);
  return *it;
}

}  // namespace

bool IsKnownFilter(absl::string_view name) { return In(kFilters, name); }
bool IsKnownTest(absl::string_view name) { return In(kTests, name); }

absl::StatusOr<Value> ApplyFilter(absl::string_view name, const Value& in, const List& args,
                                  const KwArgs& kwargs) {
  const Value none;
  if (name == "default" || name == "d") {
    const bool boolean = Truthy(Arg(args, kwargs, 1, "boolean", none));
    if (in.is_undefined() || (boolean && !Truthy(in))) {
      return Arg(args, kwargs, 0, "default_value", Value::String(""));
    }
    return in;
  }
  if (name == "length" || name == "count") {
    switch (in.kind) {
      case Kind::kUndefined:
        return Value::Int(0);
      case Kind::kString:
        return Value::Int(int64_t(CodePoints(in.s).size()));
      case Kind::kList:
        return Value::Int(int64_t(in.list->size()));
      case Kind::kDict:
        return Value::Int(int64_t(in.dict->size()));
      default:
        return TypeError(absl::StrCat("object of type '", TypeName(in), "' has no len()"));
    }
  }
  if (name == "safe") return in;
  if (name == "tojson") {
    JsonStyle st;
    st.ensure_ascii = Truthy(Arg(args, kwargs, 0, "ensure_ascii", Value::Bool(false)));
    const Value indent = Arg(args, kwargs, 1, "indent", none);
    if (indent.kind == Kind::kInt) {
      st.pretty = true;
      st.indent = std::string(std::clamp<int64_t>(indent.i, 0, 64), ' ');
    } else if (indent.is_string()) {
      st.pretty = true;
      st.indent = indent.s;
    }
    if (st.pretty) st.item_sep = ",";
    const Value seps = Arg(args, kwargs, 2, "separators", none);
    if (seps.is_list()) {
      if (seps.list->size() != 2 || !(*seps.list)[0].is_string() || !(*seps.list)[1].is_string()) {
        return TypeError("tojson: separators must be two strings");
      }
      st.item_sep = (*seps.list)[0].s;
      st.key_sep = (*seps.list)[1].s;
    }
    st.sort_keys = Truthy(Arg(args, kwargs, 3, "sort_keys", none));
    ASSIGN_OR_RETURN(std::string s, ToJson(in, st));
    return Value::String(std::move(s));
  }
  if (name == "string") return in.is_string() ? in : Value::String(ToStr(in));
  if (name == "e" || name == "escape") return Value::String(Escape(ToStr(in)));
  if (name == "upper") return Value::String(AsciiUpper(ToStr(in)));
  if (name == "lower") return Value::String(AsciiLower(ToStr(in)));
  if (name == "capitalize") return Value::String(Capitalize(ToStr(in)));
  if (name == "title") return Value::String(JinjaTitle(ToStr(in)));
  if (name == "trim") {
    const Value chars = Arg(args, kwargs, 0, "chars", none);
    std::optional<std::string> set;
    if (chars.is_string()) set = chars.s;
    return Value::String(PyStrip(ToStr(in), set, true, true));
  }
  if (name == "replace") {
    if (args.size() < 2) return TypeError("replace needs (old, new)");
    const Value count = Arg(args, kwargs, 2, "count", none);
    return Value::String(PyReplace(ToStr(in), ToStr(args[0]), ToStr(args[1]),
                                   count.kind == Kind::kInt ? count.i : -1));
  }
  if (name == "wordcount") {
    int64_t n = 0;
    bool in_word = false;
    for (char c : ToStr(in)) {
      bool w = std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
               static_cast<unsigned char>(c) >= 0x80;
      if (w && !in_word) ++n;
      in_word = w;
    }
    return Value::Int(n);
  }
  if (name == "indent") {
    const Value width = Arg(args, kwargs, 0, "width", Value::Int(4));
    std::string pad =
        width.is_string() ? width.s : std::string(std::clamp<int64_t>(width.AsInt(), 0, 256), ' ');
    const bool first = Truthy(Arg(args, kwargs, 1, "first", none));
    const bool blank = Truthy(Arg(args, kwargs, 2, "blank", none));
    std::string s = ToStr(in), out;
    size_t pos = 0;
    bool first_line = true;
    while (true) {
      size_t nl = s.find('\n', pos);
      std::string line = s.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
      if ((first_line ? first : true) && (blank || !line.empty())) out += pad;
      out += line;
      if (nl == std::string::npos) break;
      out += '\n';
      pos = nl + 1;
      first_line = false;
    }
    return Value::String(std::move(out));
  }
  if (name == "int" || name == "float") {
    Value fallback = name == "int" ? Value::Int(0) : Value::Float(0);
    return Number(in, name == "int", Arg(args, kwargs, 0, "default", fallback));
  }
  if (name == "abs") {
    if (in.kind == Kind::kFloat) return Value::Float(std::fabs(in.f));
    if (in.kind == Kind::kInt || in.kind == Kind::kBool) {
      if (in.AsInt() == INT64_MIN) return TypeError("abs: integer overflow");
      return Value::Int(std::llabs(in.AsInt()));
    }
    return TypeError(absl::StrCat("bad operand type for abs(): '", TypeName(in), "'"));
  }
  if (name == "round") {
    if (!in.is_number()) return TypeError("round needs a number");
    int64_t prec = Arg(args, kwargs, 0, "precision", Value::Int(0)).AsInt();
    const Value method = Arg(args, kwargs, 1, "method", Value::String("common"));
    double scale = std::pow(10.0, double(std::clamp<int64_t>(prec, -300, 300)));
    double x = in.AsDouble() * scale;
    double r = method.s == "floor"  ? std::floor(x)
               : method.s == "ceil" ? std::ceil(x)
                                    : std::nearbyint(x);
    if (in.kind != Kind::kFloat && method.s == "common") return in;  // round(int) is the int
    return Value::Float(r / scale);
  }
  if (name == "attr") {
    if (args.empty() || !args[0].is_string()) return TypeError("attr needs a name");
    return GetAttr(in, args[0].s);
  }
  if (name == "items") {
    if (in.is_undefined()) return Value::MakeList({});
    if (in.kind != Kind::kDict) return TypeError("items needs a mapping");
    List out;
    for (const auto& [k, v] : in.dict->items())
      out.push_back(Value::MakeList({Value::String(k), v}));
    return Value::MakeList(std::move(out));
  }
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
    return Select(name, in, args, kwargs);
  }
  if (name == "map") return Map(in, args, kwargs);
  if (name == "sort" || name == "min" || name == "max") return Sorted(in, args, kwargs, name);
  // The rest walk the items.
  ASSIGN_OR_RETURN(List items, Items(in));
  if (name == "list") return Value::MakeList(std::move(items));
  if (name == "first" || name == "last") {
    if (items.empty())
      return Value::Undefined(absl::StrCat("No ", name, " item, sequence was empty."));
    return name == "first" ? items.front() : items.back();
  }
  if (name == "reverse") {
    std::reverse(items.begin(), items.end());
    if (in.is_string()) {
      std::string s;
      for (const Value& v : items) s += v.s;
      return Value::String(std::move(s));
    }
    return Value::MakeList(std::move(items));
  }
  if (name == "join") {
    const Value sep = Arg(args, kwargs, 0, "d", Value::String(""));
    const Value attr = Arg(args, kwargs, 1, "attribute", none);
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (i) out += ToStr(sep);
      out += ToStr(attr.is_string() ? Attribute(items[i], attr.s) : items[i]);
      if (out.size() > kMaxValueBytes) return TypeError("join: the string is too long");
    }
    return Value::String(std::move(out));
  }
  if (name == "unique") {
    const bool cs = Truthy(Arg(args, kwargs, 0, "case_sensitive", none));
    const Value attr = Arg(args, kwargs, 1, "attribute", none);
    List out, seen;
    for (const Value& v : items) {
      Value key = SortKey(attr.is_string() ? Attribute(v, attr.s) : v, cs);
      if (std::none_of(seen.begin(), seen.end(), [&](const Value& s) { return Equal(s, key); })) {
        seen.push_back(key);
        out.push_back(v);
      }
    }
    return Value::MakeList(std::move(out));
  }
  if (name == "sum") {
    const Value attr = Arg(args, kwargs, 0, "attribute", none);
    Value total = Arg(args, kwargs, 1, "start", Value::Int(0));
    for (const Value& item : items) {
      Value v = attr.is_string() ? Attribute(item, attr.s) : item;
      if (!v.is_number() || !total.is_number()) return TypeError("sum needs numbers");
      if (v.kind == Kind::kFloat || total.kind == Kind::kFloat) {
        total = Value::Float(total.AsDouble() + v.AsDouble());
      } else {
        int64_t r;
        if (__builtin_add_overflow(total.AsInt(), v.AsInt(), &r))
          return TypeError("sum: integer overflow");
        total = Value::Int(r);
      }
    }
    return total;
  }
  return TypeError(absl::StrCat("filter '", name, "' is not supported"));
}

absl::StatusOr<bool> ApplyTest(absl::string_view name, const Value& v, const List& args) {
  const Value none;
  const Value& arg = args.empty() ? none : args[0];
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.kind == Kind::kBool;
  if (name == "true") return v.kind == Kind::kBool && v.b;
  if (name == "false") return v.kind == Kind::kBool && !v.b;
  if (name == "string") return v.is_string();
  if (name == "number") return v.is_number();
  if (name == "integer") return v.kind == Kind::kInt;
  if (name == "float") return v.kind == Kind::kFloat;
  if (name == "mapping") return v.kind == Kind::kDict;
  if (name == "iterable")
    return v.is_list() || v.is_string() || v.kind == Kind::kDict || v.is_undefined();
  if (name == "sequence") return v.is_list() || v.is_string() || v.kind == Kind::kDict;
  if (name == "callable")
    return v.kind == Kind::kMacro || v.kind == Kind::kFunction || v.kind == Kind::kMethod;
  if (name == "escaped") return false;
  if (name == "lower") return v.is_string() && AsciiLower(v.s) == v.s;
  if (name == "upper") return v.is_string() && AsciiUpper(v.s) == v.s;
  if (name == "odd" || name == "even" || name == "divisibleby") {
    if (v.kind != Kind::kInt && v.kind != Kind::kBool) {
      return TypeError(absl::StrCat("'is ", name, "' needs an integer, not ", TypeName(v)));
    }
    if (name == "divisibleby") {
      if (!arg.is_number() || arg.AsInt() == 0)
        return TypeError("'is divisibleby' needs a non-zero integer");
      return v.AsInt() % arg.AsInt() == 0;
    }
    return (v.AsInt() % 2 != 0) == (name == "odd");
  }
  if (name == "eq" || name == "equalto" || name == "==") return Equal(v, arg);
  if (name == "ne" || name == "!=") return !Equal(v, arg);
  if (name == "sameas") {
    if (v.kind != arg.kind) return false;
    if (v.is_list()) return v.list == arg.list;
    if (v.kind == Kind::kDict) return v.dict == arg.dict;
    return Equal(v, arg);
  }
  if (name == "in") {
    if (arg.is_string() && v.is_string()) return arg.s.find(v.s) != std::string::npos;
    ASSIGN_OR_RETURN(List items, Items(arg));
    return std::any_of(items.begin(), items.end(), [&](const Value& x) { return Equal(x, v); });
  }
  // Ordering tests.
  ASSIGN_OR_RETURN(bool lt, Less(v, arg));
  ASSIGN_OR_RETURN(bool gt, Less(arg, v));
  if (name == "lt" || name == "lessthan" || name == "<") return lt;
  if (name == "gt" || name == "greaterthan" || name == ">") return gt;
  if (name == "le" || name == "<=") return !gt;
  return !lt;  // ge, >=
}

}  // namespace zerod::chat
