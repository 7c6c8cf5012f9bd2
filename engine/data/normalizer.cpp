#include "engine/data/normalizer.h"

#include "absl/strings/str_cat.h"

namespace zerod::data {

absl::Status Normalizer::AddStep(const nlohmann::json& spec, const std::string& field,
                                 std::vector<Step>* steps) {
  if (!spec.is_object() || !spec.contains("type") || !spec["type"].is_string())
    return absl::InvalidArgumentError(absl::StrCat(field, " has no \"type\""));
  const std::string type = spec["type"];
  if (type == "Sequence") {
    const auto& list = spec.value("normalizers", nlohmann::json::array());
    for (size_t i = 0; i < list.size(); ++i) {
      if (auto s = AddStep(list[i], absl::StrCat(field, ".normalizers[", i, "]"), steps); !s.ok())
        return s;
    }
    return absl::OkStatus();
  }
  if (type == "Prepend" && spec.contains("prepend") && spec["prepend"].is_string()) {
    steps->push_back({Step::kPrepend, spec["prepend"], ""});
    return absl::OkStatus();
  }
  if (type == "Replace") {
    const auto& pattern = spec.value("pattern", nlohmann::json());
    if (!pattern.is_object() || !pattern.contains("String") || !pattern["String"].is_string() ||
        pattern["String"].get<std::string>().empty() || !spec.contains("content") ||
        !spec["content"].is_string())
      return absl::InvalidArgumentError(
          absl::StrCat(field, ".pattern is ", pattern.dump(),
                       "; zerod implements Replace with a non-empty String pattern only"));
    steps->push_back({Step::kReplace, pattern["String"], spec["content"]});
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(field, ".type is \"", type,
                   "\"; zerod implements the normalizers Prepend, Replace (String) and Sequence"));
}

absl::StatusOr<Normalizer> Normalizer::FromJson(const nlohmann::json& spec) {
  Normalizer n;
  if (spec.is_null()) return n;
  if (auto s = AddStep(spec, "normalizer", &n.steps_); !s.ok()) return s;
  return n;
}

void Normalizer::Apply(std::string* text) const {
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Step::kPrepend:
        // tokenizers prepends nothing to an empty string.
        if (!text->empty()) text->insert(0, step.a);
        break;
      case Step::kReplace: {
        std::string out;
        size_t pos = 0;
        for (size_t hit; (hit = text->find(step.a, pos)) != std::string::npos;
             pos = hit + step.a.size())
          out.append(*text, pos, hit - pos).append(step.b);
        out.append(*text, pos, std::string::npos);
        *text = std::move(out);
        break;
      }
    }
  }
}

}  // namespace zerod::data
