// builtins.h's attribute and item access, slicing, methods, global functions and tojson.
// Filters and tests are in filters.cpp.
#include "engine/chat/builtins.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "engine/chat/strings.h"
#include "engine/util/status_macros.h"

namespace zerod::chat {
namespace {

absl::Status TypeError(const std::string& what) { return absl::InvalidArgumentError(what); }

constexpr absl::string_view kStrMethods[] = {
    "strip",   "lstrip", "rstrip",  "split",   "rsplit",     "splitlines", "startswith", "endswith",
    "replace", "upper",  "lower",   "title",   "capitalize", "find",       "rfind",      "count",
    "join",    "format", "isdigit", "isalpha", "isspace",    "isalnum",    "isupper",    "islower"};
constexpr absl::string_view kDictMethods[] = {"get", "items", "keys", "values"};
constexpr absl::string_view kListMethods[] = {"index", "count"};
constexpr absl::string_view kGlobals[] = {"range", "namespace", "dict", "raise_exception",
                                          "strftime_now"};

template <size_t N>
bool In(const absl::string_view (&names)[N], absl::string_view n) {
  return std::find(std::begin(names), std::end(names), n) != std::end(names);
}

bool HasMethod(const Value& obj, absl::string_view name) {
  if (obj.is_string()) return In(kStrMethods, name);
  if (obj.kind == Kind::kDict) return In(kDictMethods, name);
  if (obj.is_list()) return In(kListMethods, name);
  return false;
}

std::string ObjectName(const Value& v) { return absl::StrCat("'", TypeName(v), " object'"); }

absl::StatusOr<std::string> StrArg(const List& args, size_t i, absl::string_view method) {
  if (i >= args.size() || !args[i].is_string()) {
    return TypeError(absl::StrCat(method, "() needs a string argument ", i + 1));
  }
  return args[i].s;
}

// Python's str.split(sep=None, maxsplit=-1) and rsplit.
Value Split(const std::string& s, const Value* sep, int64_t maxsplit, bool from_right) {
  List out;
  if (sep == nullptr || sep->is_none()) {
    std::vector<std::string> words;
    for (absl::string_view w :
         absl::StrSplit(s, absl::ByAnyChar(" \t\n\r\f\v"), absl::SkipEmpty())) {
      words.emplace_back(w);
    }
    if (maxsplit >= 0 && int64_t(words.size()) > maxsplit + 1) {
      // Rare in templates: rebuild the tail from the original text.
      if (!from_right) {
        size_t pos = 0;
        std::vector<std::string> head;
        for (int64_t k = 0; k < maxsplit; ++k) {
          pos = s.find_first_not_of(" \t\n\r\f\v", pos);
          size_t end = s.find_first_of(" \t\n\r\f\v", pos);
          head.push_back(s.substr(pos, end - pos));
          pos = end;
        }
        pos = s.find_first_not_of(" \t\n\r\f\v", pos);
        std::string tail = s.substr(pos);
        while (!tail.empty() && IsPySpace(tail.back())) tail.pop_back();
        head.push_back(tail);
        words = head;
      }
    }
    for (auto& w : words) out.push_back(Value::String(std::move(w)));
    return Value::MakeList(std::move(out));
  }
  const std::string& d = sep->s;
  std::vector<std::string> parts;
  if (!from_right) {
    size_t pos = 0;
    int64_t n = 0;
    while (maxsplit < 0 || n < maxsplit) {
      size_t at = s.find(d, pos);
      if (at == std::string::npos) break;
      parts.push_back(s.substr(pos, at - pos));
      pos = at + d.size();
      ++n;
    }
    parts.push_back(s.substr(pos));
  } else {
    size_t end = s.size();
    int64_t n = 0;
    while (maxsplit < 0 || n < maxsplit) {
      if (end < d.size()) break;
      size_t at = s.rfind(d, end - d.size());
      if (at == std::string::npos) break;
      parts.push_back(s.substr(at + d.size(), end - at - d.size()));
      end = at;
      ++n;
    }
    parts.push_back(s.substr(0, end));
    std::reverse(parts.begin(), parts.end());
  }
  for (auto& p : parts) out.push_back(Value::String(std::move(p)));
  return Value::MakeList(std::move(out));
}

// str.format with "{}", "{0}" and "{name}" fields (no format specs).
absl::StatusOr<Value> Format(const std::string& f, const List& args, const KwArgs& kwargs) {
  std::string out;
  size_t auto_index = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    char c = f[i];
    if (c == '{' && i + 1 < f.size() && f[i + 1] == '{') {
      out += '{';
      ++i;
    } else if (c == '}' && i + 1 < f.size() && f[i + 1] == '}') {
      out += '}';
      ++i;
    } else if (c == '{') {
      size_t close = f.find('}', i);
      if (close == std::string::npos) return TypeError("format(): unclosed '{'");
      std::string field = f.substr(i + 1, close - i - 1);
      if (field.find_first_of(":!") != std::string::npos) {
        return TypeError("format(): format specs are not supported");
      }
      const Value* v = nullptr;
      if (field.empty()) {
        if (auto_index < args.size()) v = &args[auto_index++];
      } else if (std::all_of(field.begin(), field.end(), absl::ascii_isdigit)) {
        // A numeral past size_t is out of range like any other missing index.
        size_t k = 0;
        if (absl::SimpleAtoi(field, &k) && k < args.size()) v = &args[k];
      } else {
        for (const auto& [name, value] : kwargs) {
          if (name == field) v = &value;
        }
      }
      if (v == nullptr) return TypeError(absl::StrCat("format(): no argument for {", field, "}"));
      out += ToStr(*v);
      i = close;
    } else {
      out += c;
    }
  }
  return Value::String(std::move(out));
}

absl::StatusOr<Value> StrMethod(const std::string& s, absl::string_view m, const List& args,
                                const KwArgs& kwargs) {
  auto chars = [&]() -> std::optional<std::string> {
    if (args.empty() || args[0].is_none()) return std::nullopt;
    return args[0].s;
  };
  if (m == "strip") return Value::String(PyStrip(s, chars(), true, true));
  if (m == "lstrip") return Value::String(PyStrip(s, chars(), true, false));
  if (m == "rstrip") return Value::String(PyStrip(s, chars(), false, true));
  if (m == "split" || m == "rsplit") {
    const Value* sep = args.empty() ? nullptr : &args[0];
    int64_t maxsplit = args.size() > 1 ? args[1].AsInt() : -1;
    for (const auto& [k, v] : kwargs) {
      if (k == "sep") sep = &v;
      if (k == "maxsplit") maxsplit = v.AsInt();
    }
    if (sep != nullptr && !sep->is_none() && (!sep->is_string() || sep->s.empty())) {
      return TypeError("split(): the separator must be a non-empty string");
    }
    return Split(s, sep, maxsplit, m == "rsplit");
  }
  if (m == "splitlines") {
    List out;
    for (absl::string_view line : absl::StrSplit(s, '\n'))
      out.push_back(Value::String(std::string(line)));
    if (!out.empty() && out.back().s.empty()) out.pop_back();
    return Value::MakeList(std::move(out));
  }
  if (m == "startswith" || m == "endswith") {
    if (args.empty()) return TypeError(absl::StrCat(m, "() needs an argument"));
    List prefixes = args[0].is_list() ? *args[0].list : List{args[0]};
    for (const Value& p : prefixes) {
      if (!p.is_string()) return TypeError(absl::StrCat(m, "() needs strings"));
      if (m == "startswith" ? absl::StartsWith(s, p.s) : absl::EndsWith(s, p.s))
        return Value::Bool(true);
    }
    return Value::Bool(false);
  }
  if (m == "replace") {
    ASSIGN_OR_RETURN(std::string from, StrArg(args, 0, m));
    ASSIGN_OR_RETURN(std::string to, StrArg(args, 1, m));
    int64_t count = args.size() > 2 ? args[2].AsInt() : -1;
    return Value::String(PyReplace(s, from, to, count));
  }
  if (m == "upper") return Value::String(AsciiUpper(s));
  if (m == "lower") return Value::String(AsciiLower(s));
  if (m == "title") return Value::String(PyTitle(s));
  if (m == "capitalize") return Value::String(Capitalize(s));
  if (m == "find" || m == "rfind" || m == "count") {
    ASSIGN_OR_RETURN(std::string needle, StrArg(args, 0, m));
    if (m == "count") return Value::Int(CountOccurrences(s, needle));
    size_t at = m == "find" ? s.find(needle) : s.rfind(needle);
    if (at == std::string::npos) return Value::Int(-1);
    return Value::Int(int64_t(CodePoints(absl::string_view(s).substr(0, at)).size()));
  }
  if (m == "join") {
    if (args.empty() || !args[0].is_list()) return TypeError("join() needs a list");
    std::string out;
    for (size_t i = 0; i < args[0].list->size(); ++i) {
      const Value& item = (*args[0].list)[i];
      if (!item.is_string()) return TypeError("join(): sequence item is not a string");
      if (i) out += s;
      out += item.s;
      if (out.size() > kMaxValueBytes) return TypeError("join(): the string is too long");
    }
    return Value::String(std::move(out));
  }
  if (m == "format") return Format(s, args, kwargs);
  bool all = !s.empty();
  for (unsigned char c : s) {
    bool ok = m == "isdigit"   ? std::isdigit(c) != 0
              : m == "isalpha" ? std::isalpha(c) != 0
              : m == "isalnum" ? std::isalnum(c) != 0
              : m == "isspace" ? IsPySpace(char(c))
              : m == "isupper" ? !std::islower(c)
                               : !std::isupper(c);
    all = all && ok;
  }
  if (m == "isupper" || m == "islower") {
    bool cased = std::any_of(s.begin(), s.end(),
                             [](char c) { return std::isalpha(static_cast<unsigned char>(c)); });
    all = all && cased;
  }
  return Value::Bool(all);
}

absl::StatusOr<Value> CallMethod(const Value& self, absl::string_view m, const List& args,
                                 const KwArgs& kwargs) {
  if (self.is_string()) return StrMethod(self.s, m, args, kwargs);
  if (self.kind == Kind::kDict) {
    const Dict& d = *self.dict;
    if (m == "get") {
      if (args.empty() || !args[0].is_string()) {
        return args.size() > 1 ? args[1] : Value::None();
      }
      const Value* v = d.Find(args[0].s);
      if (v != nullptr) return *v;
      return args.size() > 1 ? args[1] : Value::None();
    }
    List out;
    for (const auto& [k, v] : d.items()) {
      if (m == "items") {
        out.push_back(Value::MakeList({Value::String(k), v}));
      } else {
        out.push_back(m == "keys" ? Value::String(k) : v);
      }
    }
    return Value::MakeList(std::move(out));
  }
  // list.index / list.count
  if (args.empty()) return TypeError(absl::StrCat(m, "() needs an argument"));
  int64_t n = 0;
  for (size_t i = 0; i < self.list->size(); ++i) {
    if (Equal((*self.list)[i], args[0])) {
      if (m == "index") return Value::Int(int64_t(i));
      ++n;
    }
  }
  if (m == "index") return TypeError(absl::StrCat(Repr(args[0]), " is not in list"));
  return Value::Int(n);
}

absl::StatusOr<Value> CallGlobal(absl::string_view f, const List& args, const KwArgs& kwargs,
                                 std::time_t now) {
  if (f == "raise_exception") {
    std::string msg = args.empty() ? "" : ToStr(args[0]);
    absl::Status st = absl::InvalidArgumentError(msg);
    st.SetPayload(kRaisedPayload, absl::Cord(msg));
    return st;
  }
  if (f == "strftime_now") {
    if (args.empty() || !args[0].is_string())
      return TypeError("strftime_now() needs a format string");
    std::tm tm{};
    localtime_r(&now, &tm);
    char buf[512];
    size_t n = args[0].s.size() < 200 ? std::strftime(buf, sizeof(buf), args[0].s.c_str(), &tm) : 0;
    return Value::String(std::string(buf, n));
  }
  if (f == "range") {
    if (args.empty() || args.size() > 3) return TypeError("range() takes 1 to 3 arguments");
    for (const Value& a : args) {
      if (a.kind != Kind::kInt && a.kind != Kind::kBool) return TypeError("range() needs integers");
    }
    int64_t start = 0, stop = 0, step = 1;
    if (args.size() == 1) {
      stop = args[0].AsInt();
    } else {
      start = args[0].AsInt();
      stop = args[1].AsInt();
      if (args.size() == 3) step = args[2].AsInt();
    }
    if (step == 0) return TypeError("range() arg 3 must not be zero");
    List out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      if (out.size() >= kMaxListItems) return TypeError("range(): too many items");
      out.push_back(Value::Int(i));
      if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
    }
    return Value::MakeList(std::move(out));
  }
  // namespace(...) and dict(...): a mapping (positional) and/or keyword arguments.
  Dict d;
  if (!args.empty()) {
    if (args.size() > 1 || args[0].kind != Kind::kDict) {
      return TypeError(absl::StrCat(f, "() takes a dict and keyword arguments"));
    }
    d = *args[0].dict;
  }
  for (const auto& [k, v] : kwargs) {
    if (f == "namespace" && absl::StartsWith(k, "_")) {
      return TypeError(absl::StrCat("namespace attributes cannot start with '_': ", k));
    }
    d.Set(k, v);
  }
  if (f == "dict") return Value::MakeDict(std::move(d));
  Value ns;
  ns.kind = Kind::kNamespace;
  ns.ns = std::make_shared<Dict>(std::move(d));
  return ns;
}

void JsonString(absl::string_view s, bool ensure_ascii, std::string* out) {
  *out += '"';
  for (absl::string_view cp : CodePoints(s)) {
    unsigned char c = cp[0];
    if (cp.size() == 1) {
      switch (c) {
        case '"':
          *out += "\\\"";
          continue;
        case '\\':
          *out += "\\\\";
          continue;
        case '\n':
          *out += "\\n";
          continue;
        case '\r':
          *out += "\\r";
          continue;
        case '\t':
          *out += "\\t";
          continue;
        case '\b':
          *out += "\\b";
          continue;
        case '\f':
          *out += "\\f";
          continue;
        default:
          break;
      }
      if (c < 0x20 || (ensure_ascii && c >= 0x80)) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c < 0x80 ? c : 0xfffd);
        *out += buf;
      } else {
        *out += char(c);
      }
      continue;
    }
    if (!ensure_ascii) {
      absl::StrAppend(out, cp);
      continue;
    }
    uint32_t v = cp.size() == 2 ? (c & 0x1F) : cp.size() == 3 ? (c & 0x0F) : (c & 0x07);
    for (size_t k = 1; k < cp.size(); ++k)
      v = (v << 6) | (static_cast<unsigned char>(cp[k]) & 0x3F);
    char buf[16];
    if (v >= 0x10000) {
      v -= 0x10000;
      std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x", 0xD800 + (v >> 10), 0xDC00 + (v & 0x3FF));
    } else {
      std::snprintf(buf, sizeof(buf), "\\u%04x", v);
    }
    *out += buf;
  }
  *out += '"';
}

absl::Status JsonValue(const Value& v, const JsonStyle& st, int level, std::string* out) {
  if (level > 200) return TypeError("tojson: nested too deeply");
  if (out->size() > kMaxValueBytes) return TypeError("tojson: the text is too long");
  auto newline = [&](int l) {
    if (!st.pretty) return;
    *out += '\n';
    for (int k = 0; k < l; ++k) *out += st.indent;
  };
  switch (v.kind) {
    case Kind::kNone:
      *out += "null";
      return absl::OkStatus();
    case Kind::kBool:
      *out += v.b ? "true" : "false";
      return absl::OkStatus();
    case Kind::kInt:
      absl::StrAppend(out, v.i);
      return absl::OkStatus();
    case Kind::kFloat: {
      std::string r = FloatRepr(v.f);
      *out += r == "nan" ? "NaN" : r == "inf" ? "Infinity" : r == "-inf" ? "-Infinity" : r;
      return absl::OkStatus();
    }
    case Kind::kString:
      JsonString(v.s, st.ensure_ascii, out);
      return absl::OkStatus();
    case Kind::kList: {
      if (v.list->empty()) {
        *out += "[]";
        return absl::OkStatus();
      }
      *out += '[';
      for (size_t i = 0; i < v.list->size(); ++i) {
        if (i) *out += st.item_sep;
        newline(level + 1);
        RETURN_IF_ERROR(JsonValue((*v.list)[i], st, level + 1, out));
      }
      newline(level);
      *out += ']';
      return absl::OkStatus();
    }
    case Kind::kDict: {
      if (v.dict->size() == 0) {
        *out += "{}";
        return absl::OkStatus();
      }
      std::vector<const std::pair<std::string, Value>*> items;
      for (const auto& kv : v.dict->items()) items.push_back(&kv);
      if (st.sort_keys) {
        std::stable_sort(items.begin(), items.end(),
                         [](auto* a, auto* b) { return a->first < b->first; });
      }
      *out += '{';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) *out += st.item_sep;
        newline(level + 1);
        JsonString(items[i]->first, st.ensure_ascii, out);
        *out += st.key_sep;
        RETURN_IF_ERROR(JsonValue(items[i]->second, st, level + 1, out));
      }
      newline(level);
      *out += '}';
      return absl::OkStatus();
    }
    default:
      return TypeError(absl::StrCat("Object of type ", v.is_undefined() ? "Undefined" : TypeName(v),
                                    " is not JSON serializable"));
  }
}

}  // namespace

Value GetAttr(const Value& obj, absl::string_view name) {
  if (obj.is_undefined()) return obj;  // the renderer reports it
  if (HasMethod(obj, name)) return Value::Method(obj, std::string(name));
  if (obj.kind == Kind::kDict) {
    if (const Value* v = obj.dict->Find(name)) return *v;
  } else if (obj.kind == Kind::kNamespace) {
    if (const Value* v = obj.ns->Find(name)) return *v;
  }
  return Value::Undefined(absl::StrCat(ObjectName(obj), " has no attribute '", name, "'"));
}

absl::StatusOr<Value> GetItem(const Value& obj, const Value& key) {
  if (obj.is_mapping() && key.is_string()) {
    const Dict& d = obj.kind == Kind::kDict ? *obj.dict : *obj.ns;
    if (const Value* v = d.Find(key.s)) return *v;
    if (obj.kind == Kind::kDict && HasMethod(obj, key.s)) return Value::Method(obj, key.s);
    return Value::Undefined(absl::StrCat(ObjectName(obj), " has no attribute '", key.s, "'"));
  }
  if ((obj.is_list() || obj.is_string()) && (key.kind == Kind::kInt || key.kind == Kind::kBool)) {
    int64_t i = key.AsInt();
    if (obj.is_list()) {
      int64_t n = int64_t(obj.list->size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return (*obj.list)[i];
    } else {
      std::vector<absl::string_view> cps = CodePoints(obj.s);
      int64_t n = int64_t(cps.size());
      if (i < 0) i += n;
      if (i >= 0 && i < n) return Value::String(std::string(cps[i]));
    }
    return Value::Undefined(absl::StrCat(ObjectName(obj), " has no element ", key.AsInt()));
  }
  if (key.is_string()) return GetAttr(obj, key.s);
  return Value::Undefined(absl::StrCat(ObjectName(obj), " has no element ", Repr(key)));
}

absl::StatusOr<Value> Slice(const Value& obj, const Value& start, const Value& stop,
                            const Value& step) {
  auto bound = [](const Value& v) -> std::optional<int64_t> {
    if (v.is_undefined() || v.is_none()) return std::nullopt;
    return v.AsInt();
  };
  for (const Value* b : {&start, &stop, &step}) {
    if (!b->is_undefined() && !b->is_none() && b->kind != Kind::kInt && b->kind != Kind::kBool) {
      return TypeError("slice indices must be integers or None");
    }
  }
  std::vector<absl::string_view> cps;
  int64_t n;
  if (obj.is_list()) {
    n = int64_t(obj.list->size());
  } else if (obj.is_string()) {
    cps = CodePoints(obj.s);
    n = int64_t(cps.size());
  } else if (obj.is_undefined()) {
    return obj;
  } else {
    return TypeError(absl::StrCat("'", TypeName(obj), "' object is not subscriptable"));
  }
  int64_t st = bound(step).value_or(1);
  if (st == 0) return TypeError("slice step cannot be zero");
  auto clamp = [&](std::optional<int64_t> b, int64_t dflt) {
    if (!b) return dflt;
    int64_t x = *b;
    if (x < 0) x += n;
    if (st > 0) return std::clamp<int64_t>(x, 0, n);
    return std::clamp<int64_t>(x, -1, n - 1);
  };
  int64_t lo = clamp(bound(start), st > 0 ? 0 : n - 1);
  int64_t hi = clamp(bound(stop), st > 0 ? n : -1);
  List items;
  std::string text;
  for (int64_t i = lo; st > 0 ? i < hi : i > hi; i += st) {
    if (obj.is_list()) {
      items.push_back((*obj.list)[i]);
    } else {
      absl::StrAppend(&text, cps[i]);
    }
  }
  return obj.is_list() ? Value::MakeList(std::move(items)) : Value::String(std::move(text));
}

bool IsGlobalFunction(absl::string_view name) { return In(kGlobals, name); }

absl::StatusOr<Value> CallBuiltin(const Value& fn, const List& args, const KwArgs& kwargs,
                                  std::time_t now) {
  if (fn.kind == Kind::kMethod) return CallMethod(*fn.self, fn.s, args, kwargs);
  return CallGlobal(fn.s, args, kwargs, now);
}

absl::StatusOr<std::string> ToJson(const Value& v, const JsonStyle& style) {
  std::string out;
  RETURN_IF_ERROR(JsonValue(v, style, 0, &out));
  return out;
}

}  // namespace zerod::chat
