// The per-architecture halves of ParseModelConfig (hf_config.cpp): each reads the fields
// of its family from an already-parsed config.json. Internal to engine/models.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "engine/config/json_reader.h"
#include "engine/models/hf_config.h"
#include "nlohmann/json.hpp"

namespace zerod::models::internal {

// LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM (llama_config.cpp).
absl::StatusOr<LlamaConfig> ParseLlamaFamily(const nlohmann::json& json, config::JsonReader& r,
                                             const std::string& architecture);
// GPT2LMHeadModel (gpt2_config.cpp).
absl::StatusOr<Gpt2Config> ParseGpt2(const nlohmann::json& json, config::JsonReader& r);

}  // namespace zerod::models::internal
