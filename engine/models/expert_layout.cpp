#include "engine/models/expert_layout.h"

#include <regex>

#include "absl/strings/numbers.h"

namespace zerod::models {

std::optional<FusedExpertSource> FusedSourceOf(const std::string& name,
                                               const std::vector<int64_t>& shape) {
  // prefix ("model.layers.3."), block (mlp, block_sparse_moe), expert, projection.
  static const std::regex kPerExpert(
      R"(^(.*\.)(mlp|block_sparse_moe)\.experts\.(\d+)\.(gate_proj|up_proj|down_proj|w1|w2|w3)\.weight$)");
  std::smatch m;
  if (shape.size() != 2 || !std::regex_match(name, m, kPerExpert)) return std::nullopt;
  FusedExpertSource s;
  // An index past int64 is no expert of any layer.
  if (!absl::SimpleAtoi(m[3].str(), &s.expert)) return std::nullopt;
  const std::string proj = m[4].str();
  const bool down = proj == "down_proj" || proj == "w2";
  const bool up = proj == "up_proj" || proj == "w3";
  const std::string tensor = down ? "experts.down_proj" : "experts.gate_up_proj";
  // transformers renames Mixtral's block_sparse_moe to mlp when it fuses.
  s.names = {m[1].str() + "mlp." + tensor};
  if (m[2].str() != "mlp") s.names.push_back(m[1].str() + m[2].str() + "." + tensor);
  const int64_t per_expert = shape[0] * shape[1];
  s.rows = down ? shape[0] : 2 * shape[0];
  s.offset = s.expert * (down ? per_expert : 2 * per_expert) + (up ? per_expert : 0);
  return s;
}

}  // namespace zerod::models
