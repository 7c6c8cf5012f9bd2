// AdamW over this rank's shards, each group's state where the plan put it (plan.h):
//
//   device  float32 master and both moments as device tensors, updated on the current
//           stream by torch's fused AdamW (on the GPU, or on the CPU when training there)
//   host    the same in host arrays (huge pages), updated by CpuAdam on a worker thread,
//           in forward order, while the next forward runs
//
// A group's compute-dtype shard, the copy the next all-gather reads, is rewritten by its
// update: in place when it lives in host memory (CpuAdam writes the 16-bit copy in the
// same pass), or uploaded from a pinned transfer lane when it lives on the GPU.
//
// Note [overlapped update]: Launch() returns with host groups still being updated. A
// group's shard must not be read before its update lands: WaitUpdated(i) blocks until it
// has and orders the caller's current stream after its upload; Updated(i) asks without
// blocking (prefetch skips what is not ready). The math is the serial update's: the clip
// factor and the overflow decision are fixed before Launch (optim/step_decision.h), and
// each group's update reads only its own state and gradient, so neither order nor
// overlap changes a bit of the result (tests/zero/shard_optimizer_test.cpp,
// tests/train/placement_test.cpp).
//
// Host groups the plan gives spare arrays (UnitPlacement::speculate) may instead be
// updated during the backward, as soon as their gradient is held, and settled when the
// step's decision is known (Speculate, then Launch or Abandon): Note [speculative update]
// in host_updater.h, with the same bitwise guarantee.
//
// With a delay (Options::delay_after, the opt-in mode of Note [delayed update] in
// host_updater.h), launches after that many exact steps update host groups one step
// late: their shards are published from the masters first, then the masters updated
// while the next forward and backward run on those shards.
//
// Threading: the rank's main thread calls everything. The worker owns the host groups'
// state, their shards and the lanes between Launch and the group's completion.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/offload/cpu_adam.h"
#include "engine/offload/pinned_pool.h"
#include "engine/plan/plan.h"
#include "engine/zero/device_streams.h"
#include "engine/zero/grad_stream.h"
#include "engine/zero/host_updater.h"
#include "engine/zero/param_group.h"

namespace zerod::zero {

class ShardOptimizer {
 public:
  struct Options {
    torch::ScalarType dtype = torch::kFloat32;  // compute dtype of the shards
    bool overlap = true;  // false: Launch returns after every update (tests, comparisons)
    int cpu_threads = 0;  // OpenMP threads of host updates; 0: OpenMP's default
    // >= 0: the Adam steps after this one update host groups one step late (Note [delayed
    // update]); -1: never.
    int64_t delay_after = -1;
    // Host groups may update during the backward with nothing saved when the step's
    // decision is known (Note [early update], host_updater.h). Needs `overlap`.
    bool early = false;
  };
  // Where each time went, summed over the updates finished since the last TakeTimes().
  struct Times {
    double cpu_adam_seconds = 0.0;       // CpuAdam on the worker
    double transfer_wait_seconds = 0.0;  // the worker waiting for gradients down
    double device_seconds = 0.0;         // device updates (GPU time, from events)
    int speculated = 0;                  // host groups updated ahead of the decision
    int undone = 0;                      // of those, dropped and updated again
    double undo_seconds = 0.0;           // what settling those and updating again took
    int late = 0;                        // host groups updated one step late
  };

  // `groups`, `grads`, `streams` and `pool` must outlive the optimizer.
  // `speculate[i]` (empty: none) gives host group i the spare arrays speculation needs.
  static absl::StatusOr<std::unique_ptr<ShardOptimizer>> Create(
      std::vector<ParamGroup*> groups, std::vector<plan::Where> where, std::vector<bool> speculate,
      GradStream* grads, DeviceStreams* streams, offload::PinnedPool* pool, const Options& options);
  ~ShardOptimizer();
  ShardOptimizer(const ShardOptimizer&) = delete;
  ShardOptimizer& operator=(const ShardOptimizer&) = delete;

  // Group i's float32 master and moments, (shard_numel) each, on the device or the host.
  // The master is the shard itself in float32 where both live on one device.
  // Only while no update of group i is in flight (after WaitAll; checked).
  torch::Tensor& master(int i) { return Idle(i).master; }
  torch::Tensor& exp_avg(int i) { return Idle(i).exp_avg; }
  torch::Tensor& exp_avg_sq(int i) { return Idle(i).exp_avg_sq; }
  plan::Where where(int i) const { return state_[i].where; }
  // Rewrites group i's compute-dtype shard from its master (after the master was set).
  void RefreshShard(int i);

  // AdamW step `step` over every group with the gradients held in the GradStream, each
  // multiplied by `factor` first. Device groups are queued on the current stream now;
  // host groups go to the worker (or are done before returning without overlap).
  // Groups speculated this step are settled: their update stands when
  // `speculation_right` (hyper, step and factor are the ones Speculate assumed), else
  // they are updated again from their state before it.
  absl::Status Launch(const offload::AdamWHyper& hyper, int64_t step, float factor,
                      bool speculation_right = false);

  // Whether host group i may be updated ahead of the step's decision: it has spare arrays
  // to write into, or the decision is `decided` already and early updates are on.
  bool CanSpeculate(int i, bool decided) const;
  // Queues group i's update with the assumed `hyper`, `step` and `factor` once `ready`
  // (its gradient held) is reached; the group counts as not updated until settled.
  absl::Status Speculate(int i, const offload::AdamWHyper& hyper, int64_t step, float factor,
                         DeviceStreams::Marker ready);
  // The step makes no update (skipped, or cut short by an error): every group speculated
  // this step gets back its state from before, bitwise. Nothing to do when none was.
  absl::Status Abandon();
  bool speculating() const { return !speculated_.empty(); }
  // Whether host group i's shard is a step behind its master (Note [delayed update]):
  // its update of the last launch has not been published to the shard.
  bool shard_behind(int i) const { return behind_[i] != 0; }
  void MarkShardBehind(int i) { behind_[i] = 1; }  // after RefreshShard, put back
  // Blocks until nothing reads group i's held gradient any more (a late update does until
  // it is done); call before the group's next gradient is issued.
  absl::Status WaitGradientRead(int i);
  // Orders the current stream after every update that reads a held gradient, except late
  // ones (WaitGradientRead waits for those, group by group); before the backward.
  absl::Status ReleaseGradients();
  // True once group i's update has landed on the host, or, when delayed, its shard has
  // been published (always for device groups, whose ordering is the stream's: WaitUpdated).
  bool Updated(int i) const;
  // Blocks until group i's update has landed; the current stream then follows its copy up
  // (host groups) or down (device groups with a host shard). Call before every fetch.
  absl::Status WaitUpdated(int i);
  // Blocks until every host update has landed; the current stream follows every copy.
  absl::Status WaitAll();
  Times TakeTimes();

  int64_t device_bytes() const;  // state on the device (a master that is the shard: none)
  int64_t host_bytes() const;    // state and transfer lanes in host memory

 private:
  struct GroupState {
    ParamGroup* group = nullptr;
    plan::Where where = plan::Where::kHost;
    torch::Tensor master, exp_avg, exp_avg_sq;  // float32, (shard_numel)
    // The device update's last work on the group: the update itself (on the device-update
    // stream) or its copy to a host shard; the next fetch waits for it (WaitUpdated).
    DeviceStreams::Marker copied_down;
    // The speculative update's second arrays of the three above (host groups the plan chose;
    // else undefined): Note [speculative update].
    torch::Tensor spare_master, spare_exp_avg, spare_exp_avg_sq;
  };
  ShardOptimizer(GradStream* grads, DeviceStreams* streams, const Options& options);
  // Group i's state, checked to have no host update in flight.
  GroupState& Idle(int i);
  void UpdateOnDevice(int i, const offload::AdamWHyper& hyper, float factor);
  // What the worker is handed for host group i.
  HostUpdater::Group HostGroup(int i) const;
  // Settles the groups speculated this step (Note [speculative update]).
  void Settle(const offload::AdamWHyper& hyper, int64_t step, float factor, bool right, bool apply);
  // Queues the host groups' shards rewritten from their masters, for those behind.
  void PublishBehind();
  // Adds the last Launch's device update time to device_seconds_ once its events are done
  // (a step's updates are read at the next step's end or Launch, never waited for).
  void HarvestDeviceTime();

  // Constant after construction.
  GradStream* grads_;
  DeviceStreams* streams_;
  Options options_;
  std::vector<GroupState> state_;  // one per group
  std::vector<int> host_groups_;   // in forward order
  std::vector<int> speculated_;    // host groups speculated this step, as submitted
  std::vector<char> behind_;       // per group: shard_behind()
  torch::Tensor step_;             // float32 scalar on the device, read by the fused AdamW
  std::unique_ptr<HostUpdater> updater_;
  // The last Launch's device updates, timed.
  DeviceStreams::Marker device_start_, device_end_;
  bool device_timed_ = false;
  double device_seconds_ = 0.0;  // harvested, not yet taken
};

}  // namespace zerod::zero
