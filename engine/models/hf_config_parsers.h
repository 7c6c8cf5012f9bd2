// GPT-2's half of ParseModelConfig (hf_config.cpp; the decoder families read theirs through
// family.h). Internal to engine/models.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "engine/config/json_reader.h"
#include "engine/models/hf_config.h"
#include "nlohmann/json.hpp"

namespace zerod::models::internal {

// GPT2LMHeadModel (gpt2_config.cpp).
absl::StatusOr<Gpt2Config> ParseGpt2(const nlohmann::json& json, config::JsonReader& r);

}  // namespace zerod::models::internal
