#include "engine/config/job_file.h"

#include <fstream>
#include <sstream>

#include "engine/config/job_fields.h"
#include "engine/config/yaml_struct.h"

namespace zerod::config {
namespace {

// A field's value from its node, read as a flag's text is (job_fields.h), so that a file and
// the command line take the same spellings and refuse the same ones.
YamlSetter<JobSpec> FieldSetter(const JobField& field) {
  return [&field](const std::string& source, const YAML::Node& node, const std::string& key,
                  JobSpec& out) -> absl::Status {
    if (!node.IsScalar()) {
      return absl::InvalidArgumentError(
          absl::StrCat(YamlWhere(source, node, key), "must be ", Expected(field)));
    }
    if (absl::Status s = SetFieldFromText(field, node.Scalar(), &out); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(YamlWhere(source, node, key), s.message()));
    }
    return absl::OkStatus();
  };
}

// Every field of the table under its name, and under the shorter keys files have used.
const YamlKeys<JobSpec>& Keys() {
  static const auto* keys = [] {
    auto* k = new YamlKeys<JobSpec>;
    for (const JobField& f : JobFields()) {
      (*k)[f.name] = FieldSetter(f);
      for (const char* alias : f.yaml_aliases) (*k)[alias] = FieldSetter(f);
    }
    return k;
  }();
  return *keys;
}

}  // namespace

absl::StatusOr<std::string> ReadYamlFile(const std::string& path, const std::string& flag) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat(flag, " file ", path, " cannot be read; pass an existing ", flag, " file"));
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<JobSpec> ParseJobFile(const std::string& text, const std::string& source) {
  JobSpec out;
  if (absl::Status s = ReadYamlStruct(text, source, Keys(), "a job setting", out); !s.ok()) {
    return s;
  }
  return out;
}

absl::StatusOr<JobSpec> LoadJobFile(const std::string& path) {
  auto text = ReadYamlFile(path, "--job");
  if (!text.ok()) return text.status();
  return ParseJobFile(*text, path);
}

}  // namespace zerod::config
