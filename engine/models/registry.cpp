#include "engine/models/registry.h"

#include "engine/models/decoder.h"
#include "engine/models/gpt2.h"

namespace zerod::models {

std::vector<std::unique_ptr<Unit>> BuildUnits(const ModelConfig& config) {
  if (const DecoderConfig* decoder = config.decoder()) return BuildDecoderUnits(*decoder);
  return BuildGpt2Units(*config.gpt2());
}

}  // namespace zerod::models
