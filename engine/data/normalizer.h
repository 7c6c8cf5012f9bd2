// The normalizers of tokenizer.json that zerod implements: the string edits Llama-2-style
// converters write (Prepend "▁", Replace " " -> "▁") and Sequence. Unicode normalization
// (NFC, NFKC, ...), lowercasing and regex replacement need tables zerod does not carry and
// are refused at load time with the field that names them.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace zerod::data {

class Normalizer {
 public:
  // From tokenizer.json's "normalizer" (null = leave text as is).
  static absl::StatusOr<Normalizer> FromJson(const nlohmann::json& spec);

  void Apply(std::string* text) const;

 private:
  struct Step {
    enum Kind { kPrepend, kReplace } kind;
    std::string a;  // Prepend: the prefix; Replace: the pattern string
    std::string b;  // Replace: the content
  };
  static absl::Status AddStep(const nlohmann::json& spec, const std::string& field,
                              std::vector<Step>* steps);

  std::vector<Step> steps_;
};

}  // namespace zerod::data
