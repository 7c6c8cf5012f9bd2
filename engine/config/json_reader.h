// A cursor over one JSON object that remembers its path ("zero_optimization.offload_param")
// and which keys were read, so config errors name the exact key, and keys nobody read
// can be refused as unknown. Torch-free; used by the DeepSpeed and model configs.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace zerod::config {

class JsonReader {
 public:
  // `object` must outlive the reader. `source` is the file name used in messages.
  JsonReader(const nlohmann::json& object, std::string source, std::string path = "");

  bool Has(const std::string& key) const;
  // True when the key's value is the string "auto".
  bool IsAuto(const std::string& key) const;
  // Each getter returns the default when the key is absent (or "auto", HF Trainer's
  // placeholder for values derived elsewhere), and InvalidArgument naming the key when
  // the value has the wrong type or lies outside [min, max].
  absl::StatusOr<bool> Bool(const std::string& key, bool def);
  absl::StatusOr<double> Number(const std::string& key, double def, double min = -1e300,
                                double max = 1e300);
  absl::StatusOr<int64_t> Int(const std::string& key, int64_t def, int64_t min = INT64_MIN,
                              int64_t max = INT64_MAX);
  absl::StatusOr<std::string> String(const std::string& key, const std::string& def);
  // The value itself (a list, say), or null when absent or null; marks the key read.
  const nlohmann::json* Value(const std::string& key);
  // A nested object; absent keys give an empty object.
  absl::StatusOr<JsonReader> Object(const std::string& key);
  // Marks keys as accepted without reading them (they do not change training).
  void Ignore(std::initializer_list<const char*> keys);

  // The keys no getter or Ignore() touched. One within a small edit distance of a known
  // key (or equal but for case) is InvalidArgument naming that key: a misspelling would
  // otherwise change training silently. Any other is appended to `notes` as ignored, as
  // DeepSpeed ignores keys it does not know.
  absl::Status CheckUnknown(std::vector<std::string>& notes) const;
  // The keys no getter or Ignore() touched, in the object's order.
  std::vector<std::string> UnreadKeys() const;
  // The read key `key` is a near miss of (small edit distance, or equal but for case), or "".
  std::string NearestReadKey(const std::string& key) const;
  // The path of `key` in the file ("zero_optimization.offload_param.ratio").
  std::string PathOf(const std::string& key) const;
  // InvalidArgument "<source>: <path.key> <what>".
  absl::Status Error(const std::string& key, const std::string& what) const;

 private:
  const nlohmann::json* Find(const std::string& key);

  const nlohmann::json& object_;
  std::string source_;
  std::string path_;
  std::set<std::string> seen_;
};

}  // namespace zerod::config
