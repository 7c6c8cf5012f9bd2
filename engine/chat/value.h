// The values a chat template computes with: Python's (and so Jinja2's) None, bool, int,
// float, str, list and dict, plus Jinja2's Undefined, namespace() objects, macros and bound
// methods. Lists and dicts are shared and immutable once built, as in transformers'
// ImmutableSandboxedEnvironment (a template cannot append to a list); a namespace is the one
// mutable object (`{% set ns.x = ... %}`). Dicts keep insertion order (Python's), which
// tojson and items() show. Strings are UTF-8; lengths and slices count code points.
//
// Printing (`{{ v }}`) and repr follow Python: `None`, `True`, `1.0`, `['a', 1]`. This is
// not a general Python: ints are 64-bit, and case mapping is ASCII-only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace zerod::chat {

struct MacroNode;  // ast.h
struct Value;
using List = std::vector<Value>;

class Dict;

enum class Kind {
  kUndefined,
  kNone,
  kBool,
  kInt,
  kFloat,
  kString,
  kList,
  kDict,
  kNamespace,
  kMacro,
  kFunction,
  kMethod
};

struct Value {
  Kind kind = Kind::kUndefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;  // kString; kUndefined: the name that was missing; kFunction/kMethod: name
  std::shared_ptr<const List> list;
  std::shared_ptr<const Dict> dict;
  std::shared_ptr<Dict> ns;                // kNamespace: its attributes (mutable)
  std::shared_ptr<const Value> self;       // kMethod: the object the method is bound to
  std::shared_ptr<const MacroNode> macro;  // kMacro (the template's AST keeps it alive)

  static Value Undefined(std::string name = "") {
    Value v;
    v.s = std::move(name);
    return v;
  }
  static Value None() { return Of(Kind::kNone); }
  static Value Bool(bool x) {
    Value v = Of(Kind::kBool);
    v.b = x;
    return v;
  }
  static Value Int(int64_t x) {
    Value v = Of(Kind::kInt);
    v.i = x;
    return v;
  }
  static Value Float(double x) {
    Value v = Of(Kind::kFloat);
    v.f = x;
    return v;
  }
  static Value String(std::string x) {
    Value v = Of(Kind::kString);
    v.s = std::move(x);
    return v;
  }
  static Value MakeList(List items) {
    Value v = Of(Kind::kList);
    v.list = std::make_shared<const List>(std::move(items));
    return v;
  }
  static Value MakeDict(Dict d);  // after Dict
  static Value Function(std::string name) {
    Value v = Of(Kind::kFunction);
    v.s = std::move(name);
    return v;
  }
  static Value Method(Value self, std::string name) {
    Value v = Of(Kind::kMethod);
    v.self = std::make_shared<const Value>(std::move(self));
    v.s = std::move(name);
    return v;
  }

  bool is_undefined() const { return kind == Kind::kUndefined; }
  bool is_none() const { return kind == Kind::kNone; }
  bool is_string() const { return kind == Kind::kString; }
  bool is_number() const {
    return kind == Kind::kInt || kind == Kind::kFloat || kind == Kind::kBool;
  }
  bool is_mapping() const { return kind == Kind::kDict || kind == Kind::kNamespace; }
  bool is_list() const { return kind == Kind::kList; }
  double AsDouble() const { return kind == Kind::kFloat ? f : kind == Kind::kBool ? b : double(i); }
  int64_t AsInt() const { return kind == Kind::kBool ? int64_t(b) : i; }  // kInt or kBool

 private:
  static Value Of(Kind k) {
    Value v;
    v.kind = k;
    return v;
  }
};

// A dict with string keys in insertion order; lookups are linear (templates' dicts are small).
class Dict {
 public:
  const Value* Find(absl::string_view key) const;
  void Set(std::string key, Value value);  // replaces in place or appends
  const std::vector<std::pair<std::string, Value>>& items() const { return items_; }
  size_t size() const { return items_.size(); }

 private:
  std::vector<std::pair<std::string, Value>> items_;
};

inline Value Value::MakeDict(Dict d) {
  Value v = Of(Kind::kDict);
  v.dict = std::make_shared<const Dict>(std::move(d));
  return v;
}

// Python truthiness (Undefined is false).
bool Truthy(const Value& v);
// Python ==, with Jinja2's Undefined equal only to Undefined.
bool Equal(const Value& a, const Value& b);
// str(v): what `{{ v }}` prints. Undefined prints empty.
std::string ToStr(const Value& v);
// repr(v): strings quoted as Python quotes them (inside lists and dicts).
std::string Repr(const Value& v);
// Python's float repr: shortest round-trip digits, "1.0", "1e-05", "inf", "nan".
std::string FloatRepr(double x);
// A type name for error messages ("str", "list", "undefined").
absl::string_view TypeName(const Value& v);
// JSON in (ordered, as json.loads would give it) and, for tojson, JSON out.
Value FromJson(const nlohmann::ordered_json& j);

// Code points of UTF-8 text (invalid bytes count one each), for length and slicing.
std::vector<absl::string_view> CodePoints(absl::string_view s);

}  // namespace zerod::chat
