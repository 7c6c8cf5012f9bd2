// A ZeroEngine's first values: transformers' initialisation, or a Hugging Face model
// directory's weights. Each rank materialises or reads only what its shards own, one unit
// at a time, never the whole model. Not the formats themselves (models/safetensors.h,
// models/checkpoint_reader.h) nor the choice between the two (train/engine_setup.h).
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "engine/models/checkpoint_reader.h"
#include "engine/zero/zero_engine.h"

namespace zerod::weights {

// Every shard (and the float32 master) from transformers' init, seeded by `seed`
// (models::InitialValues: the same model at every world size).
absl::Status InitWeights(zero::ZeroEngine& engine, uint64_t seed, double std);

// Every shard (and the float32 master) from a Hugging Face checkpoint; each rank reads only
// the elements its shards own. Errors name the tensor and the file.
absl::Status LoadWeights(zero::ZeroEngine& engine, const models::CheckpointReader& reader);

}  // namespace zerod::weights
