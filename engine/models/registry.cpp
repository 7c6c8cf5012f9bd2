#include "engine/models/registry.h"

#include "engine/models/gpt2.h"
#include "engine/models/llama.h"

namespace zerod::models {

std::vector<std::unique_ptr<Unit>> BuildUnits(const ModelConfig& config) {
  if (const LlamaConfig* llama = config.llama()) return BuildLlamaUnits(*llama);
  return BuildGpt2Units(*config.gpt2());
}

}  // namespace zerod::models
