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

// Whether a model directory's weights can be loaded, said before any rank allocates.
// OK when it holds safetensors weights (model.safetensors, or the index of its shards) or
// no weights at all (a config-only directory: the model is initialised from the seed, and
// the start banner says so). InvalidArgument, naming the files and the way out, when its
// weights are in a format zerod does not read (pytorch_model*.bin, tf_model.h5,
// flax_model.msgpack, .pt, .pth, .ckpt, .gguf) or when it is a zerod checkpoint rather than a
// model: training from random weights there would be a silent mistake. `random_init` (--init
// random) accepts any directory: its weights are not read.
absl::Status CheckModelWeights(const std::string& dir, bool random_init);

}  // namespace zerod::models
