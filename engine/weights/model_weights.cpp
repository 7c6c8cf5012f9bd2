#include "engine/weights/model_weights.h"

#include <torch/torch.h>

#include "engine/plan/partition.h"
#include "engine/util/status_macros.h"

namespace zerod::weights {

absl::Status InitWeights(zero::ZeroEngine& engine, uint64_t seed, double std) {
  RETURN_IF_ERROR(engine.FinishUpdates());
  const int rank = engine.comm().rank();
  for (int i = 0; i < engine.num_units(); ++i) {
    const models::Unit& unit = engine.unit(i);
    torch::Tensor full = models::InitialValues(unit, seed, std);  // one unit at a time
    const plan::Partition& p = engine.group(i).partition();
    const int64_t valid = p.ShardValidNumel(rank);
    torch::Tensor values = torch::zeros({p.shard_numel}, torch::kFloat32);
    if (valid > 0) values.narrow(0, 0, valid).copy_(full.narrow(0, p.ShardBegin(rank), valid));
    engine.SetShardValues(i, values);
  }
  return absl::OkStatus();
}

absl::Status LoadWeights(zero::ZeroEngine& engine, const models::CheckpointReader& reader) {
  RETURN_IF_ERROR(engine.FinishUpdates());
  // Straight into a host float32 master when there is one, with no staging buffer: a
  // rank's resident set grows by no more than the mapped pages of the slice being copied
  // (the reader drops them after each copy). A master on the GPU (or none: evaluation)
  // is filled through one shard-sized host buffer.
  torch::NoGradGuard no_grad;
  const int rank = engine.comm().rank();
  for (int i = 0; i < engine.num_units(); ++i) {
    const zero::ParamGroup& group = engine.group(i);
    const plan::Partition& p = group.partition();
    const int64_t begin = p.ShardBegin(rank);
    const bool direct = engine.has_optimizer_state() && engine.master(i).is_cpu();
    torch::Tensor target =
        direct ? engine.master(i) : torch::empty({p.shard_numel}, torch::kFloat32);
    const int64_t valid = p.ShardValidNumel(rank);
    target.narrow(0, valid, p.shard_numel - valid).zero_();  // padding
    for (const plan::FlatEntry& e : group.layout().entries) {
      // The part of this parameter that falls in this rank's shard, if any.
      const auto [lo, hi] =
          plan::Intersect(e.offset, e.offset + e.numel, begin, begin + p.shard_numel);
      if (lo == hi) continue;
      RETURN_IF_ERROR(reader.ReadFloat32(e.name, e.shape, begin + lo - e.offset, hi - lo,
                                         target.data_ptr<float>() + lo));
    }
    if (direct) {
      engine.RefreshShard(i);
    } else {
      engine.SetShardValues(i, target);
    }
  }
  return absl::OkStatus();
}

}  // namespace zerod::weights
