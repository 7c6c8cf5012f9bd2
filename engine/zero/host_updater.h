// The CPU optimizer's worker thread (shard_optimizer.h, Note [overlapped update]): it
// takes the host-updated groups of one step in forward order and, for each, brings its
// gradient down into a pinned transfer lane (when the gradient is held on the GPU; the
// next group's copy overlaps this group's update), runs CpuAdam, and uploads the new
// 16-bit shard (when the shard lives on the GPU), then marks the group done.
//
// Two lanes, each a gradient half and a 16-bit half sized to the largest host group:
// lane j % 2 serves the j-th group of the step. A lane's gradient half is free once its
// group's CpuAdam returned (same thread); its 16-bit half once its upload is done (host
// wait on the upload's marker before reuse).
//
// Note [speculative update]: a host group whose gradient is complete before the step's
// decision (clip factor, fp16 skip: optim/step_decision.h) is known may be updated during
// the backward, with the factor the decision gives when nothing clips or overflows
// (kSpeculate). First its gradient is checked finite (a non-finite one is never applied
// ahead of the decision). The update is made out of place: it reads the group's state and
// writes the new one into the group's spare arrays (offload::AdamWStepInto), so it moves
// the bytes of the serial update and no more, and the state from before stays where it
// was. When the decision comes (kSettle): if it is the one assumed, the update stands and
// the spare arrays become the state (their storages are exchanged, which every holder of
// the state's tensors sees: the optimizer, a derived group's master, a float32 shard that
// is its master); if not, the state from before is still the state, bitwise, and the
// update is made again in place with the decided factor (or not at all, when the step is
// skipped, and its 16-bit shard, which the speculation wrote, is rounded from the master
// again: the shard is always the master rounded). So every outcome leaves bitwise the
// serial update's weights and moments (tests/train/placement_test.cpp). A decision that
// differs drops the speculations still queued unmade: the worker goes straight to the
// decided updates. And the engine speculates only while the last step's decision was the
// one assumed (ZeroEngine::MaybeSpeculate): a run whose clip triggers every step (random
// weights) pays for one step of dropped work, not every step's, and one whose gradients
// stay under the clip (most fine-tuning) keeps every speculation. The plan chooses which
// groups have spare arrays (plan.h, UnitPlacement::speculate): they cost 12 bytes per
// element of host memory.
//
// Note [early update]: where the step's decision is known before the backward ends (no
// gradient clipping, no fp16 overflow check: the factor is the gradient scale whatever the
// gradients), a host group is updated during the backward with nothing saved: kSpeculate
// without spare arrays, which Settle then always finds right. That is the serial update's
// arithmetic on the same gradient, so exact as it is, for no memory ("zerod_early_update",
// on by default). A non-finite gradient waits for the decision as before. If the step does
// not complete (an error in its passes, a non-finite loss), an early update cannot be
// undone: the worker's error then refuses every later call (save, export, step), so no
// state that is no step's is ever written.
//
// Note [delayed update]: the opt-in mode that changes the math (ZeRO-Offload's delayed
// parameter update; "zerod_delayed_update"). At each step's launch the worker first
// publishes every host group's 16-bit shard from its master (kPublish: the master as the
// previous step's update left it), then updates the masters and moments with this step's
// gradient (kLate) without touching the shards, in reverse forward order: the next
// forward runs on the published shards and never waits for the CPU, and the next
// backward, which reaches the last units first, needs their held gradients back first
// (WaitIdle before a group's next gradient is issued). So step s+1's forward and backward
// see host units as the update of step s-1 left them: one step late. Device-updated units
// are never delayed. A shard is always some master rounded, so what is saved (the masters)
// and exported (the masters rounded, ZeroEngine::shard_behind) is the true state.
//
// Threading: Submit, Done, WaitDone, WaitAll and TakeTimes are for the rank's main
// thread; everything else runs on the worker. `mu_` guards the queue, the pending counts,
// the markers handed over and the times. Which groups' speculation stands (speculated_)
// and which are updated again (redo_) is the worker's alone.
#pragma once

#include <torch/torch.h>

#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "engine/offload/cpu_adam.h"
#include "engine/offload/pinned_pool.h"
#include "engine/zero/device_streams.h"

namespace zerod::zero {

class GradStream;

class HostUpdater {
 public:
  // `grads` and `streams` must outlive the updater. `cpu_threads` > 0 sets the worker's
  // OpenMP team size.
  HostUpdater(GradStream* grads, DeviceStreams* streams, int num_groups, int cpu_threads);
  ~HostUpdater();  // finishes the work in hand, then stops the thread
  HostUpdater(const HostUpdater&) = delete;
  HostUpdater& operator=(const HostUpdater&) = delete;

  // Pinned lanes for groups of up to `numel` elements (GPU only). Call once, before Submit.
  absl::Status AllocateLanes(offload::PinnedPool* pool, int64_t numel, torch::ScalarType grad_dtype,
                             torch::ScalarType shard_dtype);

  // One host group's state, handed to the worker for the batch (tensor handles: the
  // worker writes through them).
  struct Group {
    int index = 0;  // the group's number (its held gradient, its pending count)
    torch::Tensor master, exp_avg, exp_avg_sq;  // float32 host arrays
    torch::Tensor shard;  // compute dtype: host (written in place) or GPU (uploaded)
    // kSpeculate: where the update's new state is written, the state left as it was
    // (float32, like the state; undefined: an early update, in place).
    torch::Tensor spare_master, spare_exp_avg, spare_exp_avg_sq;
  };
  enum class Kind {
    kUpdate,     // the step's decided update
    kSpeculate,  // ahead of the decision: hyper and factor are the assumed ones
    kSettle,     // the decision, for groups submitted with kSpeculate this step
    kPublish,    // the 16-bit shards rewritten from the masters (Note [delayed update])
    kLate,       // the step's update of masters and moments only, shards untouched
  };
  struct Batch {
    Kind kind = Kind::kUpdate;
    std::vector<Group> groups;  // forward order (kSpeculate: as gradients arrive)
    offload::AdamWHyper hyper;
    int64_t step = 0;
    float factor = 1.0f;
    // kSettle: whether the speculation was right (the update stands), and whether the step
    // updates at all (false: skipped, restore only).
    bool assumed_right = false;
    bool apply = true;
    // The worker's stream starts after this point; kSpeculate also waits for it on the
    // host (the group's gradient is complete there).
    DeviceStreams::Marker launched;
  };
  void Submit(Batch batch);
  // Whether `group`'s shard is final for the next fetch: no submission that writes it is
  // pending (a kLate update does not count).
  bool Done(int group) const;
  // Whether the worker is done with `group` altogether: its shard, its state and its held
  // gradient (kLate included).
  bool Idle(int group) const;
  // Blocks until `group`'s shard is final (Done); the calling thread's current stream then
  // follows its upload. The worker's first error, if any, for every later call.
  absl::Status WaitDone(int group);
  // Blocks until `group` is Idle: its held gradient may be written again.
  absl::Status WaitIdle(int group);
  absl::Status WaitAll();

  struct Times {
    double cpu_adam_seconds = 0.0;
    double transfer_wait_seconds = 0.0;
    int speculated = 0;         // groups updated ahead of the decision
    int undone = 0;             // of those, dropped because the decision differed
    double undo_seconds = 0.0;  // updating those again (or rounding their shards again)
    int late = 0;               // groups updated one step late (kLate)
  };
  Times TakeTimes();
  int64_t lane_bytes() const;

 private:
  struct Lane {
    torch::Tensor grad;   // pinned, gradient dtype
    torch::Tensor param;  // pinned, compute dtype
    DeviceStreams::Marker grad_down, param_up;
  };
  // A Settle whose decision differs from the assumption: the speculations still queued
  // are dropped unmade (Note [speculative update]).
  void DropQueuedSpeculation() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Loop();
  void Run(Batch& batch);
  // The update loop over `batch.groups[j]` for j in `order`, each marked done as it lands.
  void RunUpdates(const Batch& batch, const std::vector<int>& order);
  void Speculate(Batch& batch);
  void Settle(Batch& batch);
  void Publish(const Batch& batch);
  // Marks group g done (one submission of it fewer pending; `late`: a kLate one).
  void Finish(int g, bool late = false);
  void RecordError(absl::Status s);
  // The update of batch.groups[j]: in place, or `into_spare` (its state read, the new
  // state written to its spare arrays, Note [speculative update]).
  void UpdateGroup(const Batch& batch, int j, bool into_spare = false);
  // A speculation that stands: the spare arrays become the group's state and the state
  // its spare arrays.
  void TakeSpareState(const Group& group);
  // Rewrites the group's compute-dtype shard from its master (lane j % 2 for an upload).
  void RewriteShard(const Group& group, int j);
  // Lane j's 16-bit output for the group (or the host shard itself), and its upload after.
  void* ShardOutput(const Group& group, Lane* lane);
  // The group's new 16-bit shard (in the lane) uploaded, or a float32 shard set from
  // `master` (the master the update wrote).
  void PublishShard(const Group& group, Lane* lane, const torch::Tensor& master);
  void BringGradientDown(const Batch& batch, int j);
  // The group's gradient where CpuAdam can read it (the lane, or the held buffer).
  const void* HostGradient(const Batch& batch, int j);

  // Constant after construction.
  GradStream* grads_;
  DeviceStreams* streams_;
  int cpu_threads_;
  std::vector<Lane> lanes_;       // worker-owned between Submit and completion
  std::vector<char> speculated_;  // per group: its speculative update stands (worker-owned)
  std::vector<char> redo_;  // per group: updated again after a dropped speculation (worker-owned)
  std::thread thread_;

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::deque<Batch> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<int> pending_ ABSL_GUARDED_BY(mu_);  // per group: submissions not yet done
  std::vector<int> late_ ABSL_GUARDED_BY(mu_);     // per group: kLate ones not yet done
  std::vector<DeviceStreams::Marker> uploaded_ ABSL_GUARDED_BY(mu_);  // per group
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;  // groups submitted and not done
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  Times times_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zerod::zero
