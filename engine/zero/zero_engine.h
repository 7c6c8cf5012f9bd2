// ZeroEngine: the only code that knows about shards (DESIGN.md). It owns one ParamGroup
// per unit, in the unit order the model runs, and drives a training step:
//
//   Forward(ids)        fetch unit k (prefetching k+1.. within the prefetch bucket and
//                       the live-parameter bound, and only units whose last update has
//                       landed), run it, release it unless persistent.
//   loss.backward()     each unit's UnitFunction::backward re-fetches it (prefetching
//                       k-1..), recomputes it when checkpointing, computes its gradients
//                       and hands them to the gradient path (grad_stream.h), releases it.
//   Step(...)           decides clipping and the fp16 skip for all ranks
//                       (optim/step_decision.h), then launches the optimizer
//                       (shard_optimizer.h): device-held state updates on the GPU at once,
//                       host-held state on the CPU while the next Forward runs.
//
// Where each unit's shard, optimizer state and gradient live comes from the placement plan
// (plan/plan.h), computed before the engine allocates anything.
//
// Threading: the rank's main thread calls everything but the UnitFunction hooks. On CPU
// autograd runs those on the calling thread too; on CUDA they run on autograd's device
// thread while the main thread waits inside backward(), so calls never overlap. The
// optimizer's worker thread touches only what ShardOptimizer hands it.
//
// Errors: every call returns a Status but Forward and the UnitFunction hooks, which run
// inside a pass through autograd and throw a StatusException instead; the pass's caller
// takes it back with CatchToStatus (Note [exceptions], status_exception.h).
//
// Note [unused experts]: an expert of a mixture-of-experts layer that no token of a
// rank's micro-batch chose gets no gradient from autograd on the reference path
// (models/moe.h), and a zero slice of the stacked weights' gradient on the GPU's grouped
// path. Undefined counts as zero (Accumulate): the layer's flat gradient holds zeros
// there and is reduce-scattered whole, with the experts other ranks did use; AdamW then
// updates the expert with a zero gradient (its moments decay, weight decay applies), which
// is what transformers' fused 3-D expert parameters get from torch.optim.AdamW too (one
// tensor for all of a layer's experts, so never a None gradient). zerod does not skip the
// expert's reduce-scatter when every rank agrees it went unused: a layer's experts share
// one group and one collective, and the skip would save bytes of a collective that is
// issued anyway. Measured on the tiny fixtures only (every expert used); at the benchmark
// shapes (8 of 64 or 128 experts per token, 8k tokens a micro-batch) every expert should
// be used in practice. The step log's `unused_experts` counts the (layer, expert) pairs no
// token of the global batch chose, so this can be checked on any run.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/api.h"
#include "engine/comm/communicator.h"
#include "engine/config/zero_defaults.h"
#include "engine/models/unit.h"
#include "engine/offload/cpu_adam.h"
#include "engine/offload/pinned_pool.h"
#include "engine/plan/plan.h"
#include "engine/zero/device_streams.h"
#include "engine/zero/grad_stream.h"
#include "engine/zero/param_group.h"
#include "engine/zero/shard_optimizer.h"

namespace zerod::zero {

struct EngineOptions {
  torch::ScalarType dtype = torch::kFloat32;  // compute dtype of gathered parameters
  torch::Device device = torch::kCPU;         // where units run
  bool offload_param = true;                  // 16-bit shards in host memory (always, on CPU)
  bool pin_memory = true;                     // page-lock host shards and gradients (CUDA builds)
  // Recompute every unit in backward; else those the placement marks (recompute).
  bool activation_checkpointing = false;
  int64_t prefetch_bucket_numel = config::kPrefetchBucketNumel;  // stage3_prefetch_bucket_size
  int64_t persistence_threshold_numel =
      config::kParamPersistenceThresholdNumel;               // stage3_param_persistence_threshold
  int64_t max_live_numel = config::kMaxLiveParametersNumel;  // stage3_max_live_parameters
  // false: forward only (evaluation). No float32 master, Adam moments or gradient
  // buffers are allocated; backward through a unit and Step() fail.
  bool optimizer_state = true;
  // The plan's placement, one per unit in order. Empty: every shard where offload_param
  // says, all optimizer state on the host, gradients held on the device.
  std::vector<plan::UnitPlacement> placement;
  int64_t gradient_accumulation_steps = 1;  // > 1: gradients are summed in float32
  bool overlap_optimizer = true;            // host updates overlap the next forward
  // Host updates during the backward where PrepareStep says the decision is known
  // (Note [early update], host_updater.h); only with overlap_optimizer and no delay.
  bool early_update = true;
  int optimizer_threads = 0;  // OpenMP threads of host updates; 0: default
  // >= 0: after this many exact Adam steps, host-updated units apply each update one step
  // late (the opt-in mode of Note [delayed update], zero/host_updater.h); -1: never.
  int64_t delayed_update_after = -1;
};

// Outcome of one optimizer step.
struct StepOutcome {
  bool skipped = false;            // fp16 overflow: no update made
  double grad_norm = 0.0;          // global L2 norm of the unscaled gradient, before clipping
  double drain_seconds = 0.0;      // waiting for the last gradients to be held
  bool speculation_right = false;  // the update speculated during the backward stands
};

// Where optimizer time went since the last call (ZeroEngine::TakeOptimizerTimes).
struct OptimizerTimes {
  double cpu_seconds = 0.0;            // CpuAdam on the worker
  double gpu_seconds = 0.0;            // device AdamW (GPU time)
  double transfer_wait_seconds = 0.0;  // the worker waiting for gradients to come down
  double forward_wait_seconds = 0.0;   // the forward waiting for host updates to land
  int speculated_units = 0;            // host groups updated during the backward
  int undone_units = 0;                // of those, dropped and updated again
  double undo_seconds = 0.0;           // dropping and updating again (on the worker)
  int late_units = 0;                  // host groups updated one step late
  double gradient_wait_seconds = 0.0;  // the backward waiting for late updates' gradients
};

class ZeroEngine {
 public:
  // Takes the units; builds a ParamGroup for each. `comm` must outlive the engine.
  // Errors when host memory for the shards cannot be had (or pinned).
  static absl::StatusOr<std::unique_ptr<ZeroEngine>> Create(
      std::vector<std::unique_ptr<models::Unit>> units, comm::Communicator* comm,
      const EngineOptions& options);
  ~ZeroEngine();

  // Runs all units on `ids` (B, T) int64 on the engine's device; returns logits
  // (B, T, V) that carry autograd history through every unit. Under torch::NoGradGuard
  // the units run directly, with no autograd function and nothing saved for backward
  // (evaluation). Throws StatusException (or torch's own exception) on failure: run it,
  // and backward(), inside CatchToStatus (Note [exceptions]). `layout`: how the rows divide
  // into documents (packed rows, models/sequence_layout.h; moved to the engine's device);
  // empty: one document per row.
  torch::Tensor Forward(const torch::Tensor& ids, const models::SequenceLayout& layout = {});
  // The same ending in the loss: per-token next-token cross-entropy (B, T) float32 of
  // `targets` (B, T) int64, computed by the last unit in vocabulary chunks so that the
  // logits of the whole batch never exist at once (models/lm_loss.h). What training and
  // evaluation call; Forward is for the logits themselves. A target of models::kIgnoreIndex
  // (-100) is no label: its loss is 0 (models/lm_loss.h).
  torch::Tensor ForwardLosses(const torch::Tensor& ids, const torch::Tensor& targets,
                              const models::SequenceLayout& layout = {});
  // After a Forward or ForwardLosses of a mixture-of-experts model: the routers'
  // load-balancing loss over that pass's sparse layers (models/moe.h, RouterAuxLoss), a
  // scalar float32 whose backward reaches every router through its unit's backward
  // (unit_function.h); undefined for a dense model. Taken once.
  torch::Tensor TakeRouterAuxLoss();
  // After a step's passes of a mixture-of-experts model: how many (sparse layer, expert)
  // pairs no token of the global batch chose (Note [unused experts]), over the passes whose
  // aux loss was taken and over every rank (a collective: every rank calls it). Clears
  // the count. 0 for a dense model.
  absl::StatusOr<int64_t> TakeUnusedExperts();

  // One AdamW step over every shard, with the gradients accumulated since the last step.
  // `grad_scale` multiplies every gradient first (1 / loss scale); `max_norm` > 0 clips
  // to that global norm; `check_overflow` skips the update when a gradient is not finite.
  // Host updates may still run when it returns (Note [overlapped update]): whatever reads
  // a shard next waits for it. FailedPrecondition on an engine built without optimizer
  // state.
  absl::StatusOr<StepOutcome> Step(const offload::AdamWHyper& hyper, double grad_scale,
                                   double max_norm, bool check_overflow);
  // Announces the next Step's hyperparameters and gradient scale before its backward
  // passes, so that host groups the plan gave spare state arrays
  // (UnitPlacement::speculate) are updated as their gradients arrive, assuming nothing
  // clips or overflows; Step settles them, dropping exactly where the decision differs
  // (Note [speculative update], host_updater.h). Optional: without it every host update
  // waits for Step. `decided`: the step neither clips nor checks for overflow, so its factor
  // is `grad_scale` whatever the gradients: host groups then update during the backward
  // with nothing saved (Note [early update], host_updater.h).
  void PrepareStep(const offload::AdamWHyper& hyper, double grad_scale, bool decided = false);
  // The step's passes failed and Step will not be called: speculated groups get back
  // their state from before the step, bitwise.
  absl::Status AbandonStep();

  // Releases every gathered unit (the end of a micro-step, or after an error).
  absl::Status ReleaseAll();
  // Waits until every launched update has landed (before reading or writing state).
  absl::Status FinishUpdates();
  OptimizerTimes TakeOptimizerTimes();

  // Bytes this rank keeps between steps, and the gathered peak.
  MemoryStats Memory() const;
  int64_t live_gathered_bytes() const;
  int64_t num_parameters() const;
  int num_units() const { return static_cast<int>(slots_.size()); }
  // Unit i's group, for code outside Forward (tests, tools). Its shard may still be being
  // updated (Note [overlapped update]): handed out only once its update has landed
  // (FinishUpdates() first), checked.
  ParamGroup& group(int i);
  torch::Device device() const { return options_.device; }

  // What engine/weights/ reads and writes (initialisation, loading from a model directory,
  // export, the rank's state file), so that loading and saving are a part of their own
  // and zero/ knows nothing of file formats. Each checks that group g's last update has
  // landed (FinishUpdates() first).
  comm::Communicator& comm() const { return *comm_; }
  torch::ScalarType dtype() const { return options_.dtype; }
  bool has_optimizer_state() const { return optimizer_ != nullptr; }
  // Whether group g's 16-bit shard is a step behind its master (Note [delayed update],
  // zero/host_updater.h): what the next pass reads is not yet the trained state.
  bool shard_behind(int g) const { return optimizer_ != nullptr && optimizer_->shard_behind(g); }
  // Runs `fn` with group g's shard made its master rounded, when it is behind, and puts the
  // shard back after (export: the trained state, while the next step reads the old one).
  absl::Status WithCurrentShard(int g, const std::function<absl::Status()>& fn);
  // Group g's float32 master and Adam moments, (shard_numel) each, on the host or the
  // device. REQUIRES: has_optimizer_state().
  torch::Tensor& master(int g);
  torch::Tensor& exp_avg(int g);
  torch::Tensor& exp_avg_sq(int g);
  // Sets group g from this rank's float32 values, (shard_numel) on the host: the master
  // keeps them, the compute-dtype shard is their rounding (the shard alone without
  // optimizer state).
  void SetShardValues(int g, const torch::Tensor& values);
  // Rewrites group g's shard from its master, after the master was written in place.
  void RefreshShard(int g);
  int64_t adam_step() const { return adam_step_; }  // AdamW steps taken (bias correction)
  void set_adam_step(int64_t step) { adam_step_ = step; }
  const models::Unit& unit(int i) const { return *slots_[i].unit; }

  // Called by UnitFunction (unit_function.h); not for other callers. A unit reads its
  // own group and the groups it borrows from (Note [tied weights], unit.h): all are
  // gathered for it and released after it. `grads` holds the unit's own parameters'
  // gradients, then its borrowed ones'.
  void FetchForRun(int index, bool backward);
  void AfterForward(int index);
  void AfterBackward(int index, const std::vector<torch::Tensor>& grads);
  models::Unit& unit(int i) { return *slots_[i].unit; }
  // Whether unit i keeps only its input in forward and is recomputed in backward.
  bool recomputes(int i) const {
    return options_.activation_checkpointing ||
           (i < static_cast<int>(options_.placement.size()) && options_.placement[i].recompute);
  }

 private:
  // A group's gradient while the units that read it deliver theirs, in one backward
  // (Note [tied weights]): reduce-scattered once, when the last of them has delivered.
  struct PendingGrad {
    std::vector<torch::Tensor> grads;  // per parameter of the group, summed over its uses
    int received = 0;                  // units that delivered in this backward
    int expected = 1;                  // units that read the group: the owner + borrowers
  };
  // One per unit: the unit, its parameters' group, and what the engine tracks for both.
  struct Slot {
    std::unique_ptr<models::Unit> unit;
    std::unique_ptr<ParamGroup> group;  // the unit's own parameters
    std::vector<int> uses;              // groups the unit reads, its own first
    PendingGrad pending;                // this group's gradient in the current backward
    bool persistent = false;            // small: stays gathered from forward to backward
  };
  ZeroEngine(comm::Communicator* comm, const EngineOptions& options);
  absl::Status Build(std::vector<std::unique_ptr<models::Unit>> units);
  absl::Status BuildOptimizer(const std::vector<plan::UnitPlacement>& placement);
  absl::Status MapBorrowedGroups();  // fills uses and pending.expected
  // Forward, or ForwardLosses when `targets` is not empty.
  torch::Tensor Run(const torch::Tensor& ids, const torch::Tensor& targets,
                    const models::SequenceLayout& layout);
  void Accumulate(int group, size_t param, const torch::Tensor& grad);
  void Prefetch(int from, int direction);
  // Starts group g's fetch once its last update has landed (Note [overlapped update]).
  void StartFetchAfterUpdate(int g);

  // Constant after construction.
  comm::Communicator* comm_;
  EngineOptions options_;
  std::unique_ptr<DeviceStreams> streams_;
  std::unique_ptr<offload::PinnedPool> pool_;  // pinned shards, held gradients, lanes
  std::vector<Slot> slots_;                    // in the order the model runs
  std::unique_ptr<GradStream> grads_;          // null without optimizer state
  std::unique_ptr<ShardOptimizer> optimizer_;  // null without optimizer state
  torch::Tensor anchor_;  // zero-size tensor requiring grad: makes every unit's output
                          // require grad, so the first unit (integer input) gets a backward
  // What PrepareStep announced for the step in flight (Note [speculative update]).
  struct Prepared {
    bool armed = false;
    offload::AdamWHyper hyper;
    float factor = 1.0f;   // the factor when nothing clips or overflows: the gradient scale
    bool decided = false;  // that factor is the step's (no clipping, no overflow check)
    bool spoiled = false;  // a gradient was added after its group was speculated
  };
  // After group g's gradient is issued: speculates its update when the step is armed and
  // the group's sum is final.
  void MaybeSpeculate(int g);

  // Training state.
  Prepared prepared_;
  // The last Step neither clipped nor skipped: host groups speculate this step only then
  // (MaybeSpeculate); true before the first step.
  bool last_assumption_held_ = true;
  std::vector<models::RouterStats> router_;  // the last pass's sparse layers, in order
  std::vector<torch::Tensor> step_picks_;    // per sparse layer: picks summed over the step
  int64_t adam_step_ = 0;
  int64_t peak_live_bytes_ = 0;
  double forward_wait_seconds_ = 0.0;   // FetchForRun waiting for host updates
  double gradient_wait_seconds_ = 0.0;  // AfterBackward waiting for late updates
};

}  // namespace zerod::zero
