#include "engine/plan/partition.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace zerod::plan {

int64_t Partition::ShardValidNumel(int rank) const {
  const int64_t begin = ShardBegin(rank);
  return std::clamp<int64_t>(numel - begin, 0, shard_numel);
}

absl::StatusOr<Partition> MakePartition(int64_t numel, int world_size, int64_t shard_align) {
  if (world_size < 1)
    return absl::InvalidArgumentError(absl::StrCat("world_size ", world_size, " < 1"));
  if (shard_align < 1)
    return absl::InvalidArgumentError(absl::StrCat("shard_align ", shard_align, " < 1"));
  if (numel < 0) return absl::InvalidArgumentError(absl::StrCat("numel ", numel, " < 0"));
  Partition p;
  p.numel = numel;
  p.world_size = world_size;
  const int64_t per_rank = (numel + world_size - 1) / world_size;
  p.shard_numel = (per_rank + shard_align - 1) / shard_align * shard_align;
  p.padded_numel = p.shard_numel * world_size;
  return p;
}

FlatLayout MakeFlatLayout(const std::vector<std::pair<std::string, std::vector<int64_t>>>& params) {
  FlatLayout layout;
  for (const auto& [name, shape] : params) {
    int64_t numel = 1;
    for (int64_t d : shape) numel *= d;
    layout.entries.push_back({name, shape, layout.numel, numel});
    layout.numel += numel;
  }
  return layout;
}

std::pair<int64_t, int64_t> Intersect(int64_t begin, int64_t end, int64_t shard_begin,
                                      int64_t shard_end) {
  const int64_t lo = std::max(begin, shard_begin);
  const int64_t hi = std::min(end, shard_end);
  if (lo >= hi) return {0, 0};
  return {lo - shard_begin, hi - shard_begin};
}

}  // namespace zerod::plan
