#include "engine/zero/host_updater.h"

#include <omp.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "engine/models/torch_dtype.h"
#include "engine/util/status_macros.h"
#include "engine/zero/grad_stream.h"
#include "engine/zero/status_exception.h"

namespace zerod::zero {
namespace {

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

HostUpdater::HostUpdater(GradStream* grads, DeviceStreams* streams, int num_groups, int cpu_threads)
    : grads_(grads), streams_(streams), cpu_threads_(cpu_threads) {
  pending_.assign(num_groups, 0);
  uploaded_.resize(num_groups);
}

HostUpdater::~HostUpdater() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
}

absl::Status HostUpdater::AllocateLanes(offload::PinnedPool* pool, int64_t numel,
                                        torch::ScalarType grad_dtype,
                                        torch::ScalarType shard_dtype) {
  lanes_.resize(2);
  for (Lane& lane : lanes_) {
    ASSIGN_OR_RETURN(lane.grad, PoolTensor(pool, numel, grad_dtype));
    ASSIGN_OR_RETURN(lane.param, PoolTensor(pool, numel, shard_dtype));
  }
  return absl::OkStatus();
}

int64_t HostUpdater::lane_bytes() const {
  int64_t n = 0;
  for (const Lane& lane : lanes_) n += lane.grad.nbytes() + lane.param.nbytes();
  return n;
}

void HostUpdater::Submit(Batch batch) {
  {
    absl::MutexLock lock(&mu_);
    for (const Group& g : batch.groups) pending_[g.index] = 1;
    in_flight_ += static_cast<int>(batch.groups.size());
    queue_.push_back(std::move(batch));
    if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
  }
  cv_.SignalAll();
}

bool HostUpdater::Done(int group) const {
  absl::MutexLock lock(&mu_);
  return !pending_[group];
}

absl::Status HostUpdater::WaitDone(int group) {
  absl::MutexLock lock(&mu_);
  while (pending_[group]) cv_.Wait(&mu_);
  uploaded_[group].StreamWait();
  return error_;
}

absl::Status HostUpdater::WaitAll() {
  absl::MutexLock lock(&mu_);
  while (in_flight_ != 0) cv_.Wait(&mu_);
  return error_;
}

HostUpdater::Times HostUpdater::TakeTimes() {
  absl::MutexLock lock(&mu_);
  Times t = times_;
  times_ = {};
  return t;
}

void HostUpdater::Loop() {
  if (cpu_threads_ > 0) omp_set_num_threads(cpu_threads_);
  torch::NoGradGuard no_grad;
  while (true) {
    Batch batch;
    {
      absl::MutexLock lock(&mu_);
      while (!stop_ && queue_.empty()) cv_.Wait(&mu_);
      if (queue_.empty()) return;  // stop_ with nothing left
      batch = std::move(queue_.front());
      queue_.pop_front();
    }
    Run(batch);
  }
}

void HostUpdater::Run(Batch& batch) {
  // One side stream for the whole batch; it starts after the launching stream's work
  // (the gradients zeroed or summed there).
  auto scope = streams_->Enter(SideStream::kUpdate);
  batch.launched.StreamWait();
  const int n = static_cast<int>(batch.groups.size());
  bool failed = false;
  for (int j = 0; j < n; ++j) {
    if (!failed) {
      // This thread is the boundary for what its torch calls throw (Note [exceptions]).
      absl::Status s = CatchToStatus(
          absl::StatusCode::kInternal,
          absl::StrCat("the CPU optimizer failed on group ", batch.groups[j].index), [&] {
            if (j == 0) BringGradientDown(batch, 0);
            if (j + 1 < n) BringGradientDown(batch, j + 1);  // overlaps this group's update
            UpdateGroup(batch, j);
          });
      if (!s.ok()) {
        failed = true;
        absl::MutexLock lock(&mu_);
        if (error_.ok()) error_ = std::move(s);
      }
    }
    {
      absl::MutexLock lock(&mu_);
      pending_[batch.groups[j].index] = 0;
      --in_flight_;
    }
    cv_.SignalAll();
  }
}

void HostUpdater::BringGradientDown(const Batch& batch, int j) {
  const torch::Tensor& held = grads_->held(batch.groups[j].index);
  if (!held.is_cuda()) return;  // read where it is
  Lane& lane = lanes_[j % 2];
  lane.grad.narrow(0, 0, held.numel()).copy_(held, /*non_blocking=*/true);
  lane.grad_down = streams_->Mark();
}

void HostUpdater::UpdateGroup(const Batch& batch, int j) {
  const Group& group = batch.groups[j];
  const int g = group.index;
  Lane* lane = lanes_.empty() ? nullptr : &lanes_[j % 2];
  const torch::Tensor& held = grads_->held(g);
  const void* grad = held.data_ptr();
  if (held.is_cuda()) {
    const auto t = std::chrono::steady_clock::now();
    lane->grad_down.HostWait();
    grad = lane->grad.data_ptr();
    absl::MutexLock lock(&mu_);
    times_.transfer_wait_seconds += Since(t);
  }
  const torch::Tensor& master = group.master;
  torch::Tensor shard = group.shard;
  const bool shard_16bit = shard.scalar_type() != torch::kFloat32;
  void* out16 = nullptr;
  if (shard_16bit && shard.is_cpu()) {
    out16 = shard.data_ptr();  // written in the same pass
  } else if (shard_16bit) {
    lane->param_up.HostWait();  // the lane's last upload has left
    out16 = lane->param.data_ptr();
  }
  const auto t = std::chrono::steady_clock::now();
  offload::AdamWStep(master.data_ptr<float>(), grad, models::ToDType(held.scalar_type()),
                     group.exp_avg.data_ptr<float>(), group.exp_avg_sq.data_ptr<float>(),
                     master.numel(), batch.hyper, batch.step, batch.factor, out16,
                     models::ToDType(shard.scalar_type()));
  const double adam_seconds = Since(t);
  DeviceStreams::Marker uploaded;
  if (shard.is_cuda()) {
    if (shard_16bit) {
      shard.copy_(lane->param.narrow(0, 0, shard.numel()), /*non_blocking=*/true);
      lane->param_up = streams_->Mark();
    } else {
      shard.copy_(master, /*non_blocking=*/true);
    }
    uploaded = streams_->Mark();
  } else if (!shard_16bit && !master.is_same(shard)) {
    shard.copy_(master);
  }
  absl::MutexLock lock(&mu_);
  uploaded_[g] = std::move(uploaded);
  times_.cpu_adam_seconds += adam_seconds;
}

}  // namespace zerod::zero
