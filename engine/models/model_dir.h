// Where a model named on the command line lives. DeepSpeed users pass either a
// directory or a Hub id (`--model-name meta-llama/Llama-2-7b-hf`); zerod never
// downloads, but finds a Hub id in the local Hugging Face cache, as transformers does
// offline: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub, in
// models--ORG--NAME/snapshots/<the commit refs/main names>.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace zerod::models {

// `name_or_dir` itself when it is a directory; else its snapshot directory in the
// Hugging Face cache; else NotFound saying where zerod looked and how to download it.
absl::StatusOr<std::string> ResolveModelDir(const std::string& name_or_dir);

}  // namespace zerod::models
