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
// Threading: Submit, Done, WaitDone, WaitAll and TakeTimes are for the rank's main
// thread; everything else runs on the worker. `mu_` guards the queue, the pending flags,
// the markers handed over and the times.
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
    int index = 0;  // the group's number (its held gradient, its pending flag)
    torch::Tensor master, exp_avg, exp_avg_sq;  // float32 host arrays
    torch::Tensor shard;  // compute dtype: host (written in place) or GPU (uploaded)
  };
  struct Batch {
    std::vector<Group> groups;  // forward order
    offload::AdamWHyper hyper;
    int64_t step = 0;
    float factor = 1.0f;
    DeviceStreams::Marker launched;  // the worker's stream starts after this point
  };
  void Submit(Batch batch);
  bool Done(int group) const;
  // Blocks until `group` is updated; the calling thread's current stream then follows its
  // upload. The worker's first error, if any, for every later call.
  absl::Status WaitDone(int group);
  absl::Status WaitAll();

  struct Times {
    double cpu_adam_seconds = 0.0;
    double transfer_wait_seconds = 0.0;
  };
  Times TakeTimes();
  int64_t lane_bytes() const;

 private:
  struct Lane {
    torch::Tensor grad;   // pinned, gradient dtype
    torch::Tensor param;  // pinned, compute dtype
    DeviceStreams::Marker grad_down, param_up;
  };
  void Loop();
  void Run(Batch& batch);
  void UpdateGroup(const Batch& batch, int j);
  void BringGradientDown(const Batch& batch, int j);

  // Constant after construction.
  GradStream* grads_;
  DeviceStreams* streams_;
  int cpu_threads_;
  std::vector<Lane> lanes_;  // worker-owned between Submit and completion
  std::thread thread_;

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::deque<Batch> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<char> pending_ ABSL_GUARDED_BY(mu_);  // per group: submitted, not yet done
  std::vector<DeviceStreams::Marker> uploaded_ ABSL_GUARDED_BY(mu_);  // per group
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;  // groups submitted and not done
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  Times times_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zerod::zero
