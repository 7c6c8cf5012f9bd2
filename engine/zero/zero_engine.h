// ZeroEngine: the only code that knows about shards (DESIGN.md). It owns one ParamGroup
// per unit and this rank's optimizer state for each, and drives a training step:
//
//   Forward(ids)        fetch unit k (prefetching k+1.. within the prefetch bucket and
//                       the live-parameter bound), run it, release it unless persistent.
//   loss.backward()     each unit's UnitFunction::backward re-fetches it (prefetching
//                       k-1..), recomputes it when checkpointing, computes its gradients,
//                       reduce-scatters them into this rank's float32 gradient shard,
//                       releases it.
//   Step(...)           AdamW on the shards (CpuAdam), global-norm clipping, fp16
//                       overflow skip; writes the compute-dtype shard for the next gather.
//
// Threading: one thread (the rank's main loop) calls everything, and CPU autograd runs
// backward on the calling thread, so every collective is issued from it in the same
// order on every rank.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/api.h"
#include "engine/comm/communicator.h"
#include "engine/models/unit.h"
#include "engine/offload/cpu_adam.h"
#include "engine/zero/param_group.h"

namespace zerod::zero {

struct EngineOptions {
  torch::ScalarType dtype = torch::kFloat32;  // compute dtype of gathered parameters
  torch::Device device = torch::kCPU;
  bool activation_checkpointing = false;  // recompute each unit in backward
  int64_t prefetch_bucket_numel = 50'000'000;       // stage3_prefetch_bucket_size
  int64_t persistence_threshold_numel = 100'000;    // stage3_param_persistence_threshold
  int64_t max_live_numel = 1'000'000'000;           // stage3_max_live_parameters
};

// Outcome of one optimizer step.
struct StepOutcome {
  bool skipped = false;     // fp16 overflow: no update made
  double grad_norm = 0.0;   // global L2 norm of the unscaled gradient, before clipping
};

class ZeroEngine {
 public:
  // Takes the units; builds a ParamGroup for each. `comm` must outlive the engine.
  ZeroEngine(std::vector<std::unique_ptr<models::Unit>> units, comm::Communicator* comm,
             const EngineOptions& options);
  ~ZeroEngine();

  // Initialises every shard (and the float32 master) from transformers' init, seeded by
  // `seed`; each rank materialises one unit at a time, never the whole model.
  void InitWeights(uint64_t seed, double std);

  // Runs all units on `ids` (B, T) int64; returns logits (B, T, V) that carry autograd
  // history through every unit. Throws on a communication failure (autograd cannot carry
  // a Status); Job turns that into one.
  torch::Tensor Forward(const torch::Tensor& ids);

  // One AdamW step over every shard, with the gradients accumulated since the last step.
  // `grad_scale` multiplies every gradient first (1 / loss scale); `max_norm` > 0 clips
  // to that global norm; `check_overflow` skips the update when a gradient is not finite.
  absl::StatusOr<StepOutcome> Step(const offload::AdamWHyper& hyper, double grad_scale,
                                   double max_norm, bool check_overflow);

  // Releases every gathered unit (the end of a micro-step, or after an error).
  absl::Status ReleaseAll();

  // Bytes this rank keeps between steps, and the gathered peak.
  MemoryStats Memory() const;
  int64_t live_gathered_bytes() const;
  int64_t num_parameters() const;
  int num_units() const { return static_cast<int>(groups_.size()); }
  ParamGroup& group(int i) { return *groups_[i]; }
  // Float32 master shard of unit i, (shard_numel).
  const torch::Tensor& master(int i) const { return state_[i].master; }

  // Called by UnitFunction (unit_function.h); not for other callers.
  void FetchForRun(int index, bool backward);
  void AfterForward(int index);
  void AfterBackward(int index, const std::vector<torch::Tensor>& grads);
  models::Unit& unit(int i) { return *units_[i]; }
  bool activation_checkpointing() const { return options_.activation_checkpointing; }

 private:
  struct ShardState {
    torch::Tensor master;      // float32 weights, (shard_numel); aliases the shard in fp32
    torch::Tensor exp_avg;     // float32
    torch::Tensor exp_avg_sq;  // float32
    torch::Tensor grad;        // float32 sum of reduce-scattered gradients
    bool persistent = false;   // small unit: stays gathered from forward to backward
  };
  void Prefetch(int from, int direction);
  void Check(const absl::Status& s) const;  // throws std::runtime_error when not ok

  // Constant after construction.
  comm::Communicator* comm_;
  EngineOptions options_;
  std::vector<std::unique_ptr<models::Unit>> units_;
  std::vector<std::unique_ptr<ParamGroup>> groups_;
  // Optimizer state, one per group.
  std::vector<ShardState> state_;
  int64_t adam_step_ = 0;
  int64_t peak_live_bytes_ = 0;
  torch::Tensor anchor_;  // zero-size tensor requiring grad: makes every unit's output
                          // require grad, so the first unit (integer input) gets a backward
};

}  // namespace zerod::zero
