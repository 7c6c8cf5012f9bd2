// The optimizer state of a zerod checkpoint (one safetensors file per rank that wrote it:
// each group's float32 master shard and both Adam moments) read as each group's flat
// values, whatever the number of ranks that wrote it.
//
// Note [resharding]: a checkpoint written by N ranks holds, per group, N shards of
// shard_numel(N) elements, of which rank k's first ShardValidNumel(k) are real and the rest
// padding. Laid end to end without the padding they are the group's flat values; any range
// of them is gathered from whichever old shards it overlaps. A rank resuming at M ranks
// reads its own slice [rank * shard_numel(M), ...); the Hugging Face export reads a whole
// group at a time. Files are mapped and the pages read are dropped after each copy, so the
// reader holds no more than the slice it returns. Torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/models/safetensors.h"

namespace zerod::checkpoint {

class ShardedState {
 public:
  // Opens the files of old ranks 0..N-1 (`paths`, in rank order) and checks that each
  // holds `groups` groups. `verify` checks each file's data checksum first (the caller may
  // have shared that work among ranks).
  static absl::StatusOr<ShardedState> Open(const std::vector<std::string>& paths, size_t groups,
                                           bool verify);

  int old_world_size() const { return static_cast<int>(files_.size()); }
  int64_t adam_step() const { return adam_step_; }

  // Group `group`'s `what` ("master", "exp_avg" or "exp_avg_sq"), real elements
  // [begin, end) of its `numel`, into `out` (end - begin floats; 0 <= begin <= end, checked).
  // InvalidArgument naming the file when a tensor is missing or has another size than `numel`
  // implies.
  absl::Status Read(size_t group, const char* what, int64_t numel, int64_t begin, int64_t end,
                    float* out) const;

  // The tensor name of a group's state in a rank file ("group.3.master").
  static std::string TensorName(size_t group, const char* what);

 private:
  std::vector<std::unique_ptr<models::SafetensorsFile>> files_;
  int64_t adam_step_ = 0;
};

}  // namespace zerod::checkpoint
