// The gradient path: a unit's gradient from its reduce-scatter to the optimizer, one
// record per parameter group, as a state machine with issue and wait split (the way
// ParamGroup handles parameters).
//
//   state     this step's shard                                    enters by
//   kEmpty    none yet (a group that gets none counts as zero)     construction, Reset()
//   kIssued   reduce-scatter queued, summing into the held buffer  Issue()
//   kHeld     complete and readable; summed over micro-batches     WaitAll()
//
// Where a group's gradient is held is the plan's choice (plan.h): on the device (the
// reduce dtype, or float32 when micro-batches are summed) or in pinned host memory. The
// held buffers are allocated once, at creation, and sized to a shard: gradients are never
// kept for the whole model in float32 unless accumulation needs it, and never twice.
// With gradient clipping the optimizer cannot use a gradient before the global norm is
// known, so the step's shards are held until then; the optimizer (shard_optimizer.h)
// streams host-updated groups' device-held gradients down in bucket-sized lanes.
//
// The global norm's part: each shard's sum of squares is taken on the device as the shard
// arrives when there is one micro-batch (no second pass), else once over the sums.
//
// Threading: the rank's main thread (and autograd's device thread, which runs while the
// main thread waits in backward) call everything. The optimizer's worker reads held
// buffers between Reset() and the next Issue(), never concurrently with either.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/comm/communicator.h"
#include "engine/offload/pinned_pool.h"
#include "engine/plan/plan.h"
#include "engine/zero/device_streams.h"
#include "engine/zero/param_group.h"

namespace zerod::zero {

class GradStream {
 public:
  enum class State { kEmpty, kIssued, kHeld };

  // `groups`, `comm`, `streams` and `pool` must outlive the stream. `holders[i]` is where
  // group i's gradient is held; `accumulate` (gradient accumulation > 1) holds float32
  // sums. ResourceExhausted when the held buffers cannot be allocated.
  static absl::StatusOr<std::unique_ptr<GradStream>> Create(
      std::vector<ParamGroup*> groups, std::vector<plan::Where> holders, bool accumulate,
      comm::Communicator* comm, DeviceStreams* streams, offload::PinnedPool* pool);
  ~GradStream();
  GradStream(const GradStream&) = delete;
  GradStream& operator=(const GradStream&) = delete;

  // Reduce-scatters group i's gradients (one per parameter, spec order; undefined is
  // zero) and adds the shard to what the group holds this step. On the GPU the work is
  // queued on the copy-out stream behind the current stream's and this returns at once.
  absl::Status Issue(int group, const std::vector<torch::Tensor>& grads);
  // Blocks until every issued gradient is held; groups that got none hold zeros.
  // Idempotent.
  absl::Status WaitAll();
  // This rank's sum of squares over every held shard, after WaitAll() (checked: no group
  // is still kIssued).
  double LocalSumOfSquares();
  // The step's gradients were consumed (or skipped): the next Issue starts new sums. The
  // held buffers keep their contents until then.
  void Reset();

  // Group i's held gradient, (shard_numel): device or pinned host memory, of held_dtype().
  const torch::Tensor& held(int group) const { return records_[group].held; }
  // Micro-batches issued into group i's sum this step.
  int micro_batches(int group) const { return records_[group].micro_batches; }
  // Whether group i's sum is complete once a marker after its Issue is reached (not so for
  // a micro-batch after the first of a host-held group on the GPU: it waits in staging
  // until the next Issue or WaitAll adds it).
  bool CompleteAfterIssue(int group) const;
  // A marker after the work of every Issue so far (on the GPU: the copy-out stream's).
  DeviceStreams::Marker MarkIssued();
  plan::Where holder(int group) const { return records_[group].holder; }
  State state(int group) const { return records_[group].state; }
  torch::ScalarType held_dtype() const { return held_dtype_; }
  // Bytes of held buffers (and the staging buffer) on the device and on the host.
  int64_t device_bytes() const;
  int64_t host_bytes() const;

 private:
  struct Record {
    ParamGroup* group = nullptr;
    plan::Where holder = plan::Where::kDevice;
    torch::Tensor held;  // (shard_numel), held_dtype_
    State state = State::kEmpty;
    int micro_batches = 0;  // summed this step
  };
  GradStream(comm::Communicator* comm, DeviceStreams* streams, bool accumulate);
  absl::Status IssueOnCpu(Record& r, const std::vector<torch::Tensor>& grads);
  absl::Status IssueOnGpu(Record& r, const std::vector<torch::Tensor>& grads);
  // Waits for every issued gradient and adds a staged micro-batch into its sum.
  void DrainHostCopies();

  // Constant after construction.
  comm::Communicator* comm_;
  DeviceStreams* streams_;
  bool accumulate_;
  torch::ScalarType held_dtype_ = torch::kFloat32;
  std::vector<Record> records_;  // one per group
  torch::Tensor staging_;        // float32 host, largest host-held shard (accumulation only)
  // State of the step in flight.
  std::vector<DeviceStreams::Marker> issued_;  // the end of each Issue's work (GPU)
  int staged_group_ = -1;                      // group whose micro-batch sits in staging_, or -1
  DeviceStreams::Marker staged_copy_;
  // Sum of squares of the shards as they arrived (float64 scalar on the device), valid
  // while every group got one micro-batch: the norm of a sum is not the sum of norms.
  torch::Tensor device_sq_sum_;
  bool device_sq_sum_valid_ = true;
};

}  // namespace zerod::zero
