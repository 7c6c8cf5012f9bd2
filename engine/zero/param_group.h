// One unit's parameters under ZeRO-3: a flat buffer of world_size equal shards, of
// which this rank keeps one (the source of truth between steps), and, while the unit
// runs, the whole buffer gathered from every rank on the compute device.
//
//   state       memory held (compute dtype)                    enters by
//   kSharded    shard_numel (host when offloaded)              construction, Release()
//   kGathering  + padded_numel on the device, being filled     StartFetch()
//   kGathered   + padded_numel on the device, readable         WaitFetch()
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
//
// Note [derived shard]: where a unit's float32 master lives with its shard (both on the
// GPU, both on the CPU, or both in host memory beside a GPU) and the compute dtype is
// 16-bit, the 16-bit shard is only ever the master's rounding (the optimizer's copy after
// each update, SetShardValues after a load). Such a group keeps no shard of its own: each
// fetch rounds the master into this rank's slot of the gathered buffer (before the
// all-gather at world > 1), the same round-to-nearest copy, so the same bits, for 2 bytes
// per parameter less memory. A host master is uploaded whole (4 bytes per parameter
// instead of 2) and rounded on the GPU; the plan makes host shards derived only where it
// needs the host memory or finds the uploads no slower (plan.h). The fetch follows the
// update as the shard's copy did (Note [fetch ordering]: the copy-in stream waits for
// the compute stream, which waited for the update: WaitUpdated; a host update is done
// on the host before WaitUpdated returns). Not with the delayed update, whose shards stay
// a step behind their masters (the plan never combines them).
//
// Note [fetch ordering] (GPU): the gathered buffer is allocated on the compute stream;
// the copy-in stream waits for the compute stream's queued work (which may still read
// memory the allocator just recycled), copies the host shard into this rank's slot of
// the buffer, and NCCL all-gathers in place after it. WaitFetch makes the compute
// stream wait for the gather; the host never blocks.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "absl/status/statusor.h"
#include "engine/comm/communicator.h"
#include "engine/models/unit.h"
#include "engine/offload/pinned_pool.h"
#include "engine/plan/partition.h"
#include "engine/zero/device_streams.h"

namespace zerod::zero {

enum class GroupState { kSharded, kGathering, kGathered };

// This rank's reduce-scattered gradient shard, still being produced on the device.
struct ReducedGrad {
  torch::Tensor shard;  // (shard_numel), float32 on CPU builds, compute dtype on the GPU
  std::unique_ptr<comm::Work> work;
  // The flattened input, read by the collective: keep it until the caller's stream has
  // waited for `work`, so the allocator cannot recycle it under the collective.
  torch::Tensor flat;
};

class ParamGroup {
 public:
  // `unit`, `comm`, `streams` and `host_pool` must outlive the group. The shard lives in
  // `host_pool` when given (offload_param, and always on CPU), else on the device.
  // `derived`: the group will take its values from a master (BindMaster, Note [derived
  // shard]) and allocates no shard.
  ParamGroup(models::Unit* unit, comm::Communicator* comm, DeviceStreams* streams,
             offload::PinnedPool* host_pool, torch::ScalarType dtype, bool derived = false);
  ~ParamGroup();
  ParamGroup(const ParamGroup&) = delete;
  ParamGroup& operator=(const ParamGroup&) = delete;

  absl::Status StartFetch();
  absl::Status WaitFetch();
  absl::Status Release();

  // Starts reducing the unit's gradients (one per parameter, spec order; undefined means
  // zero), summed over ranks, into this rank's shard. Runs on the current stream. The
  // shard is `out` when given and of the reduce dtype (reduce_dtype()), else a new tensor.
  absl::StatusOr<ReducedGrad> StartReduceScatter(const std::vector<torch::Tensor>& grads,
                                                 const torch::Tensor& out = {});
  // The dtype gradients are reduced in: the compute dtype where the backend can (NCCL),
  // else float32 (MPI).
  torch::ScalarType reduce_dtype() const;

  GroupState state() const { return state_; }
  const plan::Partition& partition() const { return partition_; }
  const plan::FlatLayout& layout() const { return layout_; }
  // This rank's shard, compute dtype, (shard_numel). Written by the optimizer. Undefined
  // for a derived group (Note [derived shard]).
  torch::Tensor& shard() { return shard_; }
  bool derived() const { return derived_; }
  // A derived group's source: the float32 master of its shard, (shard_numel), on the
  // device the shard would have lived on.
  void BindMaster(torch::Tensor master) { master_ = std::move(master); }
  // Bytes of the shard kept between steps (0 for a derived group).
  int64_t shard_bytes() const { return shard_.defined() ? shard_.nbytes() : 0; }
  // Bytes of the gathered buffer while it is alive (fetching or gathered), else 0.
  int64_t gathered_bytes() const;

 private:
  void AllocateGathered();
  void FreeGathered();

  // Constant after construction.
  models::Unit* unit_;
  comm::Communicator* comm_;
  DeviceStreams* streams_;
  torch::ScalarType dtype_;
  bool derived_;
  plan::FlatLayout layout_;
  plan::Partition partition_;
  // State.
  GroupState state_ = GroupState::kSharded;
  torch::Tensor shard_;     // (shard_numel), compute dtype, host (pool) or device
  torch::Tensor master_;    // a derived group's source (BindMaster)
  torch::Tensor send_;      // a derived group's rounded shard while an MPI all-gather reads it
  torch::Tensor gathered_;  // (padded_numel) on the device; storage empty while kSharded
  std::unique_ptr<comm::Work> pending_;  // the all-gather while kGathering
};

// How a unit's gradients are copied into its flat buffer: consecutive flat entries whose
// gradients lie one after another in one storage (a MoE layer's experts, whose grouped
// GEMMs give all their gradients as one tensor, models/moe.h) as one run, so one copy
// instead of one per expert (thousands of small copies per step at 64 experts a layer).
// Undefined gradients (unused parameters) are left out.
struct GradRun {
  int64_t offset = 0, numel = 0;  // in the flat buffer
  torch::Tensor values;           // (numel), a view of the run's gradients
};
std::vector<GradRun> GradRuns(const plan::FlatLayout& layout,
                              const std::vector<torch::Tensor>& grads);

// A tensor over `pool` memory, returned to the pool when the last reference dies.
// Errors when the pool cannot provide the bytes.
absl::StatusOr<torch::Tensor> PoolTensor(offload::PinnedPool* pool, int64_t numel,
                                         torch::ScalarType dtype);

}  // namespace zerod::zero
