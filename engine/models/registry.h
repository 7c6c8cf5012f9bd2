// From a parsed config.json to the model's units, whichever architecture it names.
#pragma once

#include <memory>
#include <vector>

#include "engine/models/hf_config.h"
#include "engine/models/unit.h"

namespace zerod::models {

// The units of `config`'s architecture (decoder.h, gpt2.h); parameters have no storage yet.
std::vector<std::unique_ptr<Unit>> BuildUnits(const ModelConfig& config);

}  // namespace zerod::models
