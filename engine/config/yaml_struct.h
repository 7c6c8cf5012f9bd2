// Reading a flat YAML mapping into a plain struct, key by key, as the job file
// (job_file.h) and the daemons' settings file (daemon/daemon_file.h) do: each key names one
// member; an unknown key is refused naming the closest known one; a value of the wrong
// type is refused naming the file, its line and what was expected. Keys may be spelt with
// dashes or underscores (seq-len, seq_len). Torch-free (yaml-cpp and absl only).
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/util/edit_distance.h"
#include "engine/util/value_type.h"

namespace zerod::config {

// "file:LINE: key " for an error about `node` (yaml-cpp counts lines from 0).
inline std::string YamlWhere(const std::string& source, const YAML::Node& node,
                             const std::string& key) {
  return absl::StrCat(source, ":", node.Mark().line + 1, ": ", key, " ");
}

// Sets one member of S from a node; `key` is the key as written, for errors.
template <typename S>
using YamlSetter = std::function<absl::Status(const std::string& source, const YAML::Node& node,
                                              const std::string& key, S& out)>;
template <typename S>
using YamlKeys = std::map<std::string, YamlSetter<S>>;

// The setter of `member`, read as its type; `expected` says what a value looks like.
template <typename S, typename Member>
YamlSetter<S> YamlMember(Member S::*member, const char* expected) {
  return [member, expected](const std::string& source, const YAML::Node& node,
                            const std::string& key, S& out) -> absl::Status {
    using T = ValueTypeT<Member>;
    if (!node.IsScalar()) {
      return absl::InvalidArgumentError(
          absl::StrCat(YamlWhere(source, node, key), "must be ", expected));
    }
    try {
      out.*member = node.as<T>();
    } catch (const YAML::Exception&) {
      return absl::InvalidArgumentError(absl::StrCat(YamlWhere(source, node, key), "must be ",
                                                     expected, ", got \"", node.Scalar(), "\""));
    }
    return absl::OkStatus();
  };
}

// Reads `text` (named `source` in errors) over `out`: members the file does not name keep
// their values. `what` names a key in the unknown-key error ("a job setting").
template <typename S>
absl::Status ReadYamlStruct(const std::string& text, const std::string& source,
                            const YamlKeys<S>& keys, const char* what, S& out) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ":", e.mark.line + 1, ": not valid YAML: ", e.msg));
  }
  if (root.IsNull()) return absl::OkStatus();  // an empty file sets nothing
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": expected a mapping of keys (key: value, one per line)"));
  }
  for (const auto& entry : root) {
    const std::string written = entry.first.as<std::string>();
    const std::string key = absl::StrReplaceAll(written, {{"-", "_"}});
    auto it = keys.find(key);
    if (it == keys.end()) {
      std::string closest;
      size_t best = SIZE_MAX;
      for (const auto& [known, unused] : keys) {
        if (const size_t d = EditDistance(key, known); d < best) best = d, closest = known;
      }
      return absl::InvalidArgumentError(absl::StrCat(YamlWhere(source, entry.first, written),
                                                     "is not ", what, "; did you mean \"", closest,
                                                     "\"?"));
    }
    if (absl::Status s = it->second(source, entry.second, written, out); !s.ok()) return s;
  }
  return absl::OkStatus();
}

// The whole file at `path`; NotFound naming `flag` when it cannot be read.
absl::StatusOr<std::string> ReadYamlFile(const std::string& path, const std::string& flag);

}  // namespace zerod::config
