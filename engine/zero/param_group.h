// One unit's parameters under ZeRO-3: a flat buffer of world_size equal shards, of
// which this rank keeps one (the source of truth between steps), and, while the unit
// runs, the whole buffer gathered from every rank.
//
//   state       memory held (bytes, compute dtype)           enters by
//   kSharded    shard_numel                                  construction, Release()
//   kGathering  shard_numel + padded_numel, being filled      StartFetch()
//   kGathered   shard_numel + padded_numel, readable          WaitFetch()
//
// Transitions are idempotent (StartFetch on a fetching/gathered group, Release on a
// sharded one: no-ops); illegal ones (WaitFetch while sharded, Release while a gather is
// in flight) return FailedPrecondition and change nothing.
//
// Note [storage swap]: the unit's parameters are views of one tensor, `gathered_`,
// bound once. Release frees that tensor's storage *in place* (its StorageImpl gets a
// null pointer and zero bytes) and a fetch puts fresh memory back into the same
// StorageImpl. Every view, including those autograd saved during forward (linear saves
// weight.t()), shares that StorageImpl: so releasing really frees the memory, and after a
// re-gather backward reads the right values through the very tensors it saved.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "absl/status/status.h"
#include "engine/comm/communicator.h"
#include "engine/models/unit.h"
#include "engine/zero/partition.h"

namespace zerod::zero {

enum class GroupState { kSharded, kGathering, kGathered };

class ParamGroup {
 public:
  // `unit` must outlive the group. `dtype` is the compute dtype; `device` where the
  // gathered buffer lives; the shard stays on the host.
  ParamGroup(models::Unit* unit, comm::Communicator* comm, torch::ScalarType dtype,
             torch::Device device);
  ParamGroup(const ParamGroup&) = delete;
  ParamGroup& operator=(const ParamGroup&) = delete;

  // Sets this rank's shard from the unit's full values (float32, unit numel), rounding
  // to the compute dtype. Only the owned slice is copied.
  void LoadShard(const torch::Tensor& full_values);

  absl::Status StartFetch();
  absl::Status WaitFetch();
  absl::Status Release();

  // Reduce-scatters the unit's gradients (one per parameter, spec order; undefined
  // means zero) summed over ranks into `out` (float32, shard_numel).
  absl::Status ReduceScatterGrads(const std::vector<torch::Tensor>& grads, torch::Tensor& out);

  GroupState state() const { return state_; }
  const Partition& partition() const { return partition_; }
  const FlatLayout& layout() const { return layout_; }
  models::Unit& unit() { return *unit_; }
  // This rank's shard, compute dtype, (shard_numel). Written by the optimizer.
  torch::Tensor& shard() { return shard_; }
  // Bytes of the gathered buffer while it is alive (fetching or gathered), else 0.
  int64_t gathered_bytes() const;

 private:
  void AllocateGathered();
  void FreeGathered();

  // Constant after construction.
  models::Unit* unit_;
  comm::Communicator* comm_;
  torch::ScalarType dtype_;
  FlatLayout layout_;
  Partition partition_;
  // State.
  GroupState state_ = GroupState::kSharded;
  torch::Tensor shard_;     // (shard_numel), compute dtype, host
  torch::Tensor gathered_;  // (padded_numel); storage empty while kSharded
  std::unique_ptr<comm::Work> pending_;  // the all-gather while kGathering
};

// The communication dtype for a torch scalar type.
DType ToDType(torch::ScalarType type);

}  // namespace zerod::zero
