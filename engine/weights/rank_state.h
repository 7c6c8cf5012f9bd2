// A ZeroEngine's part of a checkpoint: this rank's float32 master shards and both Adam
// moments, one safetensors file per rank, and back at the same or any other world size.
// The compute-dtype shards are not stored: they are the master's rounding, remade on load
// exactly as a step makes them. Not the checkpoint directory (checkpoint/checkpoint_dir.h)
// nor the re-cutting arithmetic (Note [resharding], checkpoint/sharded_state.h).
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/zero/zero_engine.h"

namespace zerod::weights {

// FailedPrecondition on an engine built for forward only.
absl::Status SaveState(zero::ZeroEngine& engine, const std::string& path);
// The file of the same rank at the same world size.
absl::Status LoadState(zero::ZeroEngine& engine, const std::string& path);
// The state a checkpoint of paths.size() ranks wrote (one file per old rank, in rank
// order), re-cut for this world size. `verify` checks each file's checksum first (the
// caller may have split that work among ranks).
absl::Status LoadStateFrom(zero::ZeroEngine& engine, const std::vector<std::string>& paths,
                           bool verify);

}  // namespace zerod::weights
