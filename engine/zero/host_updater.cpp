#include "engine/zero/host_updater.h"

#include <omp.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "engine/models/torch_dtype.h"
#include "engine/offload/finite_check.h"
#include "engine/util/status_macros.h"
#include "engine/zero/grad_stream.h"
#include "engine/zero/status_exception.h"

namespace zerod::zero {
namespace {

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// Exchanges the memory behind two tensors of one shape and dtype. Every handle of either
// tensor shares its TensorImpl, whose storage is replaced, so each owner of a handle (the
// optimizer's state, a derived group's master, a float32 shard that is its master) reads
// the other memory from now on, and views of neither exist (Note [speculative update]).
void SwapStorage(const torch::Tensor& a, const torch::Tensor& b) {
  const c10::Storage sa = a.storage();
  const int64_t offset_a = a.storage_offset();
  a.set_(b.storage(), b.storage_offset(), b.sizes(), b.strides());
  b.set_(sa, offset_a, a.sizes(), a.strides());
}

}  // namespace

HostUpdater::HostUpdater(GradStream* grads, DeviceStreams* streams, int num_groups, int cpu_threads)
    : grads_(grads), streams_(streams), cpu_threads_(cpu_threads) {
  pending_.assign(num_groups, 0);
  late_.assign(num_groups, 0);
  speculated_.assign(num_groups, 0);
  redo_.assign(num_groups, 0);
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
    if (batch.kind == Kind::kSettle && !batch.assumed_right) DropQueuedSpeculation();
    for (const Group& g : batch.groups) ++(batch.kind == Kind::kLate ? late_ : pending_)[g.index];
    in_flight_ += static_cast<int>(batch.groups.size());
    queue_.push_back(std::move(batch));
    if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
  }
  cv_.SignalAll();
}

void HostUpdater::DropQueuedSpeculation() {
  // Speculations the worker has not started are of this step (the next step's come after
  // its Settle): never made, their groups are simply updated as the decision says.
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (it->kind != Kind::kSpeculate) {
      ++it;
      continue;
    }
    for (const Group& g : it->groups) --pending_[g.index];
    in_flight_ -= static_cast<int>(it->groups.size());
    it = queue_.erase(it);
  }
}

bool HostUpdater::Done(int group) const {
  absl::MutexLock lock(&mu_);
  return pending_[group] == 0;
}

bool HostUpdater::Idle(int group) const {
  absl::MutexLock lock(&mu_);
  return pending_[group] == 0 && late_[group] == 0;
}

absl::Status HostUpdater::WaitIdle(int group) {
  absl::MutexLock lock(&mu_);
  while (pending_[group] != 0 || late_[group] != 0) cv_.Wait(&mu_);
  return error_;
}

absl::Status HostUpdater::WaitDone(int group) {
  absl::MutexLock lock(&mu_);
  while (pending_[group] != 0) cv_.Wait(&mu_);
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
  // (the gradients zeroed or summed there, or a speculated group's reduce-scatter).
  auto scope = streams_->Enter(SideStream::kUpdate);
  batch.launched.StreamWait();
  switch (batch.kind) {
    case Kind::kUpdate:
    case Kind::kLate: {
      std::vector<int> order(batch.groups.size());
      for (size_t j = 0; j < order.size(); ++j) order[j] = static_cast<int>(j);
      RunUpdates(batch, order);
      return;
    }
    case Kind::kSpeculate:
      Speculate(batch);
      return;
    case Kind::kSettle:
      Settle(batch);
      return;
    case Kind::kPublish:
      Publish(batch);
      return;
  }
}

void HostUpdater::RecordError(absl::Status s) {
  absl::MutexLock lock(&mu_);
  if (error_.ok()) error_ = std::move(s);
}

void HostUpdater::Finish(int g, bool late) {
  {
    absl::MutexLock lock(&mu_);
    --(late ? late_ : pending_)[g];
    --in_flight_;
  }
  cv_.SignalAll();
}

void HostUpdater::RunUpdates(const Batch& batch, const std::vector<int>& order) {
  const int n = static_cast<int>(order.size());
  bool failed = false;
  for (int k = 0; k < n; ++k) {
    const int j = order[k];
    if (!failed) {
      // This thread is the boundary for what its torch calls throw (Note [exceptions]).
      absl::Status s = CatchToStatus(
          absl::StatusCode::kInternal,
          absl::StrCat("the CPU optimizer failed on group ", batch.groups[j].index), [&] {
            if (k == 0) BringGradientDown(batch, j);
            if (k + 1 < n) BringGradientDown(batch, order[k + 1]);  // overlaps this update
            UpdateGroup(batch, j);
          });
      if (!s.ok()) {
        failed = true;
        RecordError(std::move(s));
      }
    }
    Finish(batch.groups[j].index, batch.kind == Kind::kLate);
  }
  if (batch.kind == Kind::kLate) {
    absl::MutexLock lock(&mu_);
    times_.late += n;
  }
}

void HostUpdater::Publish(const Batch& batch) {
  for (size_t j = 0; j < batch.groups.size(); ++j) {
    const Group& group = batch.groups[j];
    absl::Status s =
        CatchToStatus(absl::StatusCode::kInternal,
                      absl::StrCat("the CPU optimizer failed publishing group ", group.index),
                      [&] { RewriteShard(group, static_cast<int>(j)); });
    if (!s.ok()) RecordError(std::move(s));
    Finish(group.index);
  }
}

void HostUpdater::Speculate(Batch& batch) {
  // The gradient is complete once its reduce-scatter (and copy to a host holder) is done.
  batch.launched.HostWait();
  for (size_t j = 0; j < batch.groups.size(); ++j) {
    const Group& group = batch.groups[j];
    absl::Status s = CatchToStatus(
        absl::StatusCode::kInternal,
        absl::StrCat("the CPU optimizer failed speculating on group ", group.index), [&] {
          BringGradientDown(batch, static_cast<int>(j));
          const torch::Tensor& held = grads_->held(group.index);
          const void* grad = HostGradient(batch, static_cast<int>(j));
          if (!offload::AllFinite(grad, models::ToDType(held.scalar_type()), held.numel())) return;
          // Into the spare arrays, the state left as it was; without them an early update,
          // in place, which nothing needs to undo.
          UpdateGroup(batch, static_cast<int>(j), /*into_spare=*/group.spare_master.defined());
          speculated_[group.index] = 1;
          absl::MutexLock lock(&mu_);
          ++times_.speculated;
        });
    if (!s.ok()) RecordError(std::move(s));
    Finish(group.index);
  }
}

void HostUpdater::Settle(Batch& batch) {
  // Groups whose speculation stands take their spare arrays as their state and are done;
  // the others still hold their state from before and are updated as the decision says.
  // What was dropped is counted before any group is marked done, so a WaitAll that
  // returns then finds it in the times (and each redo's time is added before its group is
  // done: UpdateGroup).
  int undone = 0;
  for (const Group& group : batch.groups) {
    if (speculated_[group.index] && !batch.assumed_right && group.spare_master.defined()) ++undone;
  }
  if (undone > 0) {
    absl::MutexLock lock(&mu_);
    times_.undone += undone;
  }
  std::vector<int> again;
  for (size_t j = 0; j < batch.groups.size(); ++j) {
    const Group& group = batch.groups[j];
    const int g = group.index;
    const bool stood = speculated_[g] != 0;
    speculated_[g] = 0;
    if (stood && batch.assumed_right) {
      if (group.spare_master.defined()) TakeSpareState(group);
      Finish(g);
      continue;
    }
    if (stood && !group.spare_master.defined()) {
      // Note [early update]: nothing saved to restore. Every later call reports it, so
      // nothing (a save, an export, another step) reads a state that is no step's.
      RecordError(absl::FailedPreconditionError(absl::StrCat(
          "host group ", g,
          " was updated during the backward (its step neither clips nor "
          "checks for overflow) and the step did not complete; that update cannot be undone, "
          "so this rank's state is no step's: resume from the last checkpoint")));
      Finish(g);
      continue;
    }
    if (stood && batch.apply) redo_[g] = 1;
    if (stood && !batch.apply) {
      // The speculation wrote the 16-bit shard; a step that makes no update rounds it from
      // the master again (else the update that follows rewrites it).
      const auto t = std::chrono::steady_clock::now();
      absl::Status s =
          CatchToStatus(absl::StatusCode::kInternal,
                        absl::StrCat("the CPU optimizer failed rewriting the shard of group ", g),
                        [&] { RewriteShard(group, static_cast<int>(j)); });
      if (!s.ok()) RecordError(std::move(s));
      absl::MutexLock lock(&mu_);
      times_.undo_seconds += Since(t);
    }
    if (batch.apply) {
      again.push_back(static_cast<int>(j));
    } else {
      Finish(g);
    }
  }
  RunUpdates(batch, again);
}

void HostUpdater::TakeSpareState(const Group& group) {
  SwapStorage(group.master, group.spare_master);
  SwapStorage(group.exp_avg, group.spare_exp_avg);
  SwapStorage(group.exp_avg_sq, group.spare_exp_avg_sq);
}

void HostUpdater::RewriteShard(const Group& group, int j) {
  Lane* lane = lanes_.empty() ? nullptr : &lanes_[j % 2];
  const torch::Tensor& shard = group.shard;
  if (!shard.defined()) return;  // derived: each fetch rounds the master (Note [derived shard])
  if (shard.scalar_type() != torch::kFloat32) {
    offload::ConvertFromFloat(group.master.data_ptr<float>(), ShardOutput(group, lane),
                              group.master.numel(), models::ToDType(shard.scalar_type()));
  }
  PublishShard(group, lane, group.master);
  absl::MutexLock lock(&mu_);
  uploaded_[group.index] = streams_->Mark();
}

void HostUpdater::BringGradientDown(const Batch& batch, int j) {
  const torch::Tensor& held = grads_->held(batch.groups[j].index);
  if (!held.is_cuda()) return;  // read where it is
  Lane& lane = lanes_[j % 2];
  lane.grad.narrow(0, 0, held.numel()).copy_(held, /*non_blocking=*/true);
  lane.grad_down = streams_->Mark();
}

const void* HostUpdater::HostGradient(const Batch& batch, int j) {
  const torch::Tensor& held = grads_->held(batch.groups[j].index);
  if (!held.is_cuda()) return held.data_ptr();
  Lane& lane = lanes_[j % 2];
  const auto t = std::chrono::steady_clock::now();
  lane.grad_down.HostWait();
  absl::MutexLock lock(&mu_);
  times_.transfer_wait_seconds += Since(t);
  return lane.grad.data_ptr();
}

void* HostUpdater::ShardOutput(const Group& group, Lane* lane) {
  const torch::Tensor& shard = group.shard;
  if (!shard.defined() || shard.scalar_type() == torch::kFloat32) return nullptr;
  if (shard.is_cpu()) return shard.data_ptr();  // written in the same pass
  lane->param_up.HostWait();                    // the lane's last upload has left
  return lane->param.data_ptr();
}

void HostUpdater::PublishShard(const Group& group, Lane* lane, const torch::Tensor& master) {
  torch::Tensor shard = group.shard;
  if (!shard.defined()) return;  // derived: nothing kept to publish
  const bool shard_16bit = shard.scalar_type() != torch::kFloat32;
  if (shard.is_cuda()) {
    if (shard_16bit) {
      shard.copy_(lane->param.narrow(0, 0, shard.numel()), /*non_blocking=*/true);
      lane->param_up = streams_->Mark();
    } else {
      shard.copy_(master, /*non_blocking=*/true);
    }
  } else if (!shard_16bit && !group.master.is_same(shard)) {
    // (A float32 shard that is the group's master holds the update already, or takes
    // `master` with it when a speculation stands.)
    shard.copy_(master);
  }
}

void HostUpdater::UpdateGroup(const Batch& batch, int j, bool into_spare) {
  const Group& group = batch.groups[j];
  Lane* lane = lanes_.empty() ? nullptr : &lanes_[j % 2];
  const torch::Tensor& held = grads_->held(group.index);
  const void* grad = HostGradient(batch, j);
  const torch::Tensor& master = group.master;
  const bool late = batch.kind == Kind::kLate;  // the shard stays (Note [delayed update])
  void* out16 = late ? nullptr : ShardOutput(group, lane);
  const auto t = std::chrono::steady_clock::now();
  // A derived group has no shard to write (Note [derived shard]): out16 is null then.
  const torch::ScalarType out_dtype =
      group.shard.defined() ? group.shard.scalar_type() : torch::kBFloat16;
  const offload::AdamWState state{master.data_ptr<float>(), group.exp_avg.data_ptr<float>(),
                                  group.exp_avg_sq.data_ptr<float>()};
  const offload::AdamWState spare =
      into_spare ? offload::AdamWState{group.spare_master.data_ptr<float>(),
                                       group.spare_exp_avg.data_ptr<float>(),
                                       group.spare_exp_avg_sq.data_ptr<float>()}
                 : state;
  offload::AdamWStepInto(state, spare, grad, models::ToDType(held.scalar_type()), master.numel(),
                         batch.hyper, batch.step, batch.factor, out16, models::ToDType(out_dtype));
  const double adam_seconds = Since(t);
  DeviceStreams::Marker uploaded;
  if (!late) {
    PublishShard(group, lane, into_spare ? group.spare_master : master);
    if (group.shard.defined() && group.shard.is_cuda()) uploaded = streams_->Mark();
  }
  const double redo_seconds = redo_[group.index] ? Since(t) : 0.0;  // a dropped speculation's
  redo_[group.index] = 0;
  absl::MutexLock lock(&mu_);
  if (!late) uploaded_[group.index] = std::move(uploaded);
  times_.cpu_adam_seconds += adam_seconds;
  times_.undo_seconds += redo_seconds;
}

}  // namespace zerod::zero
