// The arithmetic of ZeRO-3 sharding, kept apart from any tensor so it can be tested
// exhaustively. A unit's parameters are laid end to end in one flat buffer (FlatLayout);
// the buffer is padded so that it splits into world_size equal shards (Partition).
//
//   flat:  | p0 | p1 | ... | pN | pad |      padded_numel = world_size * shard_numel
//   rank:  |   0    |    1    |   2   |      rank r owns [r * shard_numel, (r+1) * shard_numel)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace zerod::plan {

// Every shard is a multiple of this many elements: 16 bytes of a 16-bit type, so each
// rank's shard starts 16-byte aligned in the flat buffer (vectorised copies, NCCL). The
// engine's groups, the plan's arithmetic and a checkpoint's re-cutting all use it.
inline constexpr int64_t kShardAlign = 8;

struct Partition {
  int64_t numel = 0;  // real elements
  int world_size = 1;
  int64_t shard_numel = 0;   // elements each rank owns, padding included
  int64_t padded_numel = 0;  // world_size * shard_numel >= numel

  // First flat index owned by `rank`.
  int64_t ShardBegin(int rank) const { return rank * shard_numel; }
  // How many of `rank`'s elements are real (not padding): 0 <= n <= shard_numel.
  int64_t ShardValidNumel(int rank) const;
};

// Splits `numel` elements over `world_size` ranks; each shard's size is rounded up to a
// multiple of `shard_align` elements (kShardAlign for the engine's groups).
// Errors: world_size < 1, shard_align < 1, numel < 0.
absl::StatusOr<Partition> MakePartition(int64_t numel, int world_size, int64_t shard_align = 1);

// Where each parameter of a unit sits in the flat buffer.
struct FlatEntry {
  std::string name;            // Hugging Face name, e.g. "model.layers.0.mlp.up_proj.weight"
  std::vector<int64_t> shape;  // e.g. (intermediate, hidden)
  int64_t offset = 0;          // first flat element
  int64_t numel = 0;
};

struct FlatLayout {
  std::vector<FlatEntry> entries;
  int64_t numel = 0;  // sum of entry sizes
};

// Lays the parameters end to end, in the given order.
FlatLayout MakeFlatLayout(const std::vector<std::pair<std::string, std::vector<int64_t>>>& params);

// The part of [begin, end) that lies inside [shard_begin, shard_end), as a range of
// the shard (both ends relative to shard_begin); empty (first == second) if none.
std::pair<int64_t, int64_t> Intersect(int64_t begin, int64_t end, int64_t shard_begin,
                                      int64_t shard_end);

}  // namespace zerod::plan
