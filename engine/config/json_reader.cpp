#include "engine/config/json_reader.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "engine/util/edit_distance.h"

namespace zerod::config {
namespace {

const nlohmann::json& EmptyObject() {
  static const nlohmann::json empty = nlohmann::json::object();
  return empty;
}

}  // namespace

JsonReader::JsonReader(const nlohmann::json& object, std::string source, std::string path)
    : object_(object.is_object() ? object : EmptyObject()),
      source_(std::move(source)),
      path_(std::move(path)) {}

bool JsonReader::Has(const std::string& key) const { return object_.contains(key); }

bool JsonReader::IsAuto(const std::string& key) const {
  auto it = object_.find(key);
  return it != object_.end() && it->is_string() && it->get<std::string>() == "auto";
}

const nlohmann::json* JsonReader::Find(const std::string& key) {
  seen_.insert(key);
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) return nullptr;
  if (it->is_string() && it->get<std::string>() == "auto") return nullptr;
  return &*it;
}

absl::Status JsonReader::Error(const std::string& key, const std::string& what) const {
  return absl::InvalidArgumentError(
      absl::StrCat(source_, ": ", path_.empty() ? "" : path_ + ".", key, " ", what));
}

absl::StatusOr<bool> JsonReader::Bool(const std::string& key, bool def) {
  const nlohmann::json* v = Find(key);
  if (v == nullptr) return def;
  if (!v->is_boolean()) return Error(key, absl::StrCat("must be true or false, got ", v->dump()));
  return v->get<bool>();
}

absl::StatusOr<double> JsonReader::Number(const std::string& key, double def, double min,
                                          double max) {
  const nlohmann::json* v = Find(key);
  if (v == nullptr) return def;
  if (!v->is_number()) return Error(key, absl::StrCat("must be a number, got ", v->dump()));
  const double x = v->get<double>();
  if (!std::isfinite(x) || x < min || x > max) {
    return Error(key, absl::StrCat("is ", v->dump(), "; it must lie in [", min, ", ", max, "]"));
  }
  return x;
}

absl::StatusOr<int64_t> JsonReader::Int(const std::string& key, int64_t def, int64_t min,
                                        int64_t max) {
  const nlohmann::json* v = Find(key);
  if (v == nullptr) return def;
  // DeepSpeed configs write sizes as 5e8: accept floats with an integral value.
  if (!v->is_number() || std::floor(v->get<double>()) != v->get<double>()) {
    return Error(key, absl::StrCat("must be an integer, got ", v->dump()));
  }
  const double x = v->get<double>();
  // Past +-2^62 no setting makes sense, and a double near 2^63 or an unsigned integer past
  // INT64_MAX would not convert to int64 at all.
  constexpr double kLargest = 4.611686018427387904e18;  // 2^62
  const bool unsigned_too_big =
      v->is_number_unsigned() &&
      v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (unsigned_too_big || std::abs(x) >= kLargest) {
    return Error(key, absl::StrCat("is ", v->dump(), "; that is too large for this setting"));
  }
  const int64_t n = v->is_number_integer() ? v->get<int64_t>() : static_cast<int64_t>(x);
  if (n < min || n > max) {
    return Error(key, absl::StrCat("is ", v->dump(), "; it must lie in [", min, ", ", max, "]"));
  }
  return n;
}

absl::StatusOr<std::string> JsonReader::String(const std::string& key, const std::string& def) {
  const nlohmann::json* v = Find(key);
  if (v == nullptr) return def;
  if (!v->is_string()) return Error(key, absl::StrCat("must be a string, got ", v->dump()));
  return v->get<std::string>();
}

const nlohmann::json* JsonReader::Value(const std::string& key) {
  seen_.insert(key);
  auto it = object_.find(key);
  return it == object_.end() || it->is_null() ? nullptr : &*it;
}

absl::StatusOr<JsonReader> JsonReader::Object(const std::string& key) {
  seen_.insert(key);
  auto it = object_.find(key);
  const std::string path = PathOf(key);
  if (it == object_.end() || it->is_null()) return JsonReader(EmptyObject(), source_, path);
  if (!it->is_object()) return Error(key, absl::StrCat("must be an object, got ", it->dump()));
  return JsonReader(*it, source_, path);
}

void JsonReader::Ignore(std::initializer_list<const char*> keys) {
  for (const char* k : keys) seen_.insert(k);
}

std::string JsonReader::PathOf(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

std::vector<std::string> JsonReader::UnreadKeys() const {
  std::vector<std::string> keys;
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (!seen_.count(it.key())) keys.push_back(it.key());
  }
  return keys;
}

std::string JsonReader::NearestReadKey(const std::string& key) const {
  for (const std::string& known : seen_) {
    if (NearMiss(key, known)) return known;
  }
  return "";
}

absl::Status JsonReader::CheckUnknown(std::vector<std::string>& notes) const {
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (seen_.count(it.key())) continue;
    if (std::string known = NearestReadKey(it.key()); !known.empty()) {
      return Error(it.key(), absl::StrCat("is not a DeepSpeed setting; did you mean \"", known,
                                          "\"? (a misspelt key would be ignored and "
                                          "change training silently)"));
    }
    notes.push_back(absl::StrCat(source_, ": ", PathOf(it.key()),
                                 " is not a setting zerod knows; ignored, as DeepSpeed ignores "
                                 "keys it does not know"));
  }
  return absl::OkStatus();
}

}  // namespace zerod::config
