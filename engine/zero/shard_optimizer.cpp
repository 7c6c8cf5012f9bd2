#include "engine/zero/shard_optimizer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/offload/host_array.h"
#include "engine/util/check.h"
#include "engine/util/status_macros.h"
#include "engine/zero/host_updater.h"
#include "engine/zero/status_exception.h"

namespace zerod::zero {
namespace {

// A float32 host tensor over a HostArray (huge pages, first touched by whoever writes it
// first: the loader or CpuAdam's threads), freed with the tensor.
absl::StatusOr<torch::Tensor> HostStateTensor(int64_t numel) {
  ASSIGN_OR_RETURN(offload::HostArray array,
                   offload::HostArray::Allocate(static_cast<size_t>(numel) * sizeof(float)));
  auto owned = std::make_shared<offload::HostArray>(std::move(array));
  void* data = owned->data();
  return torch::from_blob(
      data, {numel}, [owned](void*) mutable { owned.reset(); },
      torch::TensorOptions().dtype(torch::kFloat32));
}

}  // namespace

ShardOptimizer::ShardOptimizer(GradStream* grads, DeviceStreams* streams, const Options& options)
    : grads_(grads), streams_(streams), options_(options) {}

ShardOptimizer::GroupState& ShardOptimizer::Idle(int i) {
  ZEROD_CHECK(updater_ == nullptr || updater_->Idle(i));
  return state_[i];
}

ShardOptimizer::~ShardOptimizer() {
  if (updater_) (void)updater_->WaitAll();
}

absl::StatusOr<std::unique_ptr<ShardOptimizer>> ShardOptimizer::Create(
    std::vector<ParamGroup*> groups, std::vector<plan::Where> where, std::vector<bool> speculate,
    GradStream* grads, DeviceStreams* streams, offload::PinnedPool* pool, const Options& options) {
  std::unique_ptr<ShardOptimizer> opt(new ShardOptimizer(grads, streams, options));
  const auto device = streams->device();
  int64_t largest_lane = 0;
  auto allocate = [&]() -> absl::Status {
    for (size_t i = 0; i < groups.size(); ++i) {
      GroupState st;
      st.group = groups[i];
      st.where = where[i];
      torch::Tensor& shard = groups[i]->shard();
      const int64_t n = groups[i]->partition().shard_numel;
      const bool on_device = st.where == plan::Where::kDevice;
      // The state's device: the compute device, or the host (CPU) for host groups.
      const torch::Device state_device = on_device ? device : torch::Device(torch::kCPU);
      if (groups[i]->derived()) {  // Note [derived shard] (param_group.h)
        if (on_device) {
          st.master =
              torch::zeros({n}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
        } else if (device.is_cuda()) {
          // Pinned, so each fetch's upload of it is asynchronous.
          ASSIGN_OR_RETURN(st.master, PoolTensor(pool, n, torch::kFloat32));
          st.master.zero_();
        } else {
          ASSIGN_OR_RETURN(st.master, HostStateTensor(n));
        }
        groups[i]->BindMaster(st.master);
      } else if (options.dtype == torch::kFloat32 && shard.device() == state_device &&
                 !(options.delay_after >= 0 && !on_device)) {
        // float32 where both live: the shard is the master (not when a delayed update
        // needs the shard to stay behind it)
        st.master = shard;
      } else if (on_device) {
        st.master = torch::zeros({n}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
      } else {
        ASSIGN_OR_RETURN(st.master, HostStateTensor(n));
      }
      if (on_device) {
        const auto o = torch::TensorOptions().dtype(torch::kFloat32).device(device);
        st.exp_avg = torch::zeros({n}, o);
        st.exp_avg_sq = torch::zeros({n}, o);
      } else {
        ASSIGN_OR_RETURN(st.exp_avg, HostStateTensor(n));
        ASSIGN_OR_RETURN(st.exp_avg_sq, HostStateTensor(n));
        if (i < speculate.size() && speculate[i] && options.overlap) {
          // The spare master takes the master's place when a speculation stands: pinned,
          // like the master, where GPU fetches upload the master (derived, or a float32
          // shard that is its master), so that those uploads stay asynchronous.
          const bool uploaded =
              device.is_cuda() && (groups[i]->derived() || st.master.is_same(shard));
          if (uploaded) {
            ASSIGN_OR_RETURN(st.spare_master, PoolTensor(pool, n, torch::kFloat32));
          } else {
            ASSIGN_OR_RETURN(st.spare_master, HostStateTensor(n));
          }
          ASSIGN_OR_RETURN(st.spare_exp_avg, HostStateTensor(n));
          ASSIGN_OR_RETURN(st.spare_exp_avg_sq, HostStateTensor(n));
        }
        opt->host_groups_.push_back(static_cast<int>(i));
        if (grads->held(static_cast<int>(i)).is_cuda() || (shard.defined() && shard.is_cuda()))
          largest_lane = std::max(largest_lane, n);
      }
      opt->state_.push_back(std::move(st));
    }
    opt->behind_.assign(groups.size(), 0);
    opt->step_ = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(CatchToStatus(absl::StatusCode::kResourceExhausted,
                                "cannot allocate the optimizer state the plan places", allocate));
  if (!opt->host_groups_.empty()) {
    opt->updater_ = std::make_unique<HostUpdater>(grads, streams, static_cast<int>(groups.size()),
                                                  options.cpu_threads);
    if (largest_lane > 0) {
      RETURN_IF_ERROR(
          opt->updater_->AllocateLanes(pool, largest_lane, grads->held_dtype(), options.dtype));
    }
  }
  return opt;
}

void ShardOptimizer::RefreshShard(int i) {
  torch::NoGradGuard no_grad;
  if (state_[i].group->derived()) return;  // each fetch rounds the master itself
  behind_[i] = 0;
  torch::Tensor& shard = state_[i].group->shard();
  if (!state_[i].master.is_same(shard)) shard.copy_(state_[i].master);
}

void ShardOptimizer::UpdateOnDevice(int i, const offload::AdamWHyper& h, float factor) {
  GroupState& st = state_[i];
  const torch::Tensor& held = grads_->held(i);
  // The fused AdamW reads a float32 gradient: the held sum itself when it is float32 (it is
  // consumed here), else a scaled float32 copy.
  torch::Tensor g = held.scalar_type() == torch::kFloat32 ? held : held.to(torch::kFloat32);
  g.mul_(factor);
  at::_fused_adamw_({st.master}, {g}, {st.exp_avg}, {st.exp_avg_sq}, {}, {step_}, h.lr, h.beta1,
                    h.beta2, h.weight_decay, h.eps, /*amsgrad=*/false, /*maximize=*/false);
  torch::Tensor& shard = st.group->shard();
  if (st.group->derived() || shard.device() == st.master.device()) {
    // The compute-dtype rounding (a derived group's fetch makes it: Note [derived shard]).
    if (!st.group->derived() && !st.master.is_same(shard)) shard.copy_(st.master);
    st.copied_down = streams_->Mark();  // on the device-update stream (Launch)
    return;
  }
  // A host shard (offloaded parameters): the copy down runs on the copy-out stream so the
  // next forward's kernels do not queue behind it; the group's fetch waits for it
  // (WaitUpdated).
  auto scope = streams_->Enter(SideStream::kCopyOut);
  shard.copy_(st.master, /*non_blocking=*/true);
  st.copied_down = streams_->Mark();
}

absl::Status ShardOptimizer::Launch(const offload::AdamWHyper& hyper, int64_t step, float factor,
                                    bool speculation_right) {
  // The last step's updates have landed (the forward waited for each); what may still run
  // is this step's speculation, which is settled below, not waited for.
  if (speculated_.empty()) {
    RETURN_IF_ERROR(WaitAll());
  } else {
    for (GroupState& st : state_) st.copied_down.StreamWait();
  }
  torch::NoGradGuard no_grad;
  HarvestDeviceTime();  // the last Launch's device updates ran long ago: read them first
  auto update = [&] {
    // Beside the next forward, whose fetch of each group waits for its update only
    // (WaitUpdated), not behind all of them on the compute stream.
    auto scope = streams_->Enter(SideStream::kDeviceUpdate);
    step_.fill_(static_cast<double>(step));
    device_start_ = streams_->MarkTimed();
    for (size_t i = 0; i < state_.size(); ++i) {
      if (state_[i].where == plan::Where::kDevice)
        UpdateOnDevice(static_cast<int>(i), hyper, factor);
    }
    device_end_ = streams_->MarkTimed();
    device_timed_ = true;
  };
  RETURN_IF_ERROR(
      CatchToStatus(absl::StatusCode::kInternal, "the device optimizer failed", update));
  if (host_groups_.empty()) return absl::OkStatus();
  HostUpdater::Batch batch;
  batch.hyper = hyper;
  batch.step = step;
  batch.factor = factor;
  batch.launched = streams_->Mark();
  if (options_.delay_after >= 0 && step > options_.delay_after) {
    // Note [delayed update]: the shards from the masters as the last update left them,
    // then this update one step late, the last units (the backward's first) first.
    PublishBehind();
    batch.kind = HostUpdater::Kind::kLate;
    for (auto it = host_groups_.rbegin(); it != host_groups_.rend(); ++it) {
      batch.groups.push_back(HostGroup(*it));
      behind_[*it] = 1;
    }
    updater_->Submit(std::move(batch));
    return absl::OkStatus();
  }
  // The groups not speculated first, in forward order: the next forward needs them first.
  for (int i : host_groups_) {
    if (std::find(speculated_.begin(), speculated_.end(), i) == speculated_.end())
      batch.groups.push_back(HostGroup(i));
  }
  if (!batch.groups.empty()) updater_->Submit(std::move(batch));
  Settle(hyper, step, factor, speculation_right, /*apply=*/true);
  if (!options_.overlap) return updater_->WaitAll();
  return absl::OkStatus();
}

HostUpdater::Group ShardOptimizer::HostGroup(int i) const {
  const GroupState& st = state_[i];
  return {i,
          st.master,
          st.exp_avg,
          st.exp_avg_sq,
          st.group->shard(),
          st.spare_master,
          st.spare_exp_avg,
          st.spare_exp_avg_sq};
}

bool ShardOptimizer::CanSpeculate(int i, bool decided) const {
  if (state_[i].where != plan::Where::kHost) return false;
  return state_[i].spare_master.defined() || (decided && options_.early);
}

absl::Status ShardOptimizer::Speculate(int i, const offload::AdamWHyper& hyper, int64_t step,
                                       float factor, DeviceStreams::Marker ready) {
  ZEROD_CHECK(CanSpeculate(i, /*decided=*/true));
  HostUpdater::Batch batch;
  batch.kind = HostUpdater::Kind::kSpeculate;
  batch.groups.push_back(HostGroup(i));
  batch.hyper = hyper;
  batch.step = step;
  batch.factor = factor;
  batch.launched = std::move(ready);
  updater_->Submit(std::move(batch));
  speculated_.push_back(i);
  return absl::OkStatus();
}

void ShardOptimizer::Settle(const offload::AdamWHyper& hyper, int64_t step, float factor,
                            bool right, bool apply) {
  if (speculated_.empty()) return;
  HostUpdater::Batch batch;
  batch.kind = HostUpdater::Kind::kSettle;
  batch.hyper = hyper;
  batch.step = step;
  batch.factor = factor;
  batch.assumed_right = right;
  batch.apply = apply;
  batch.launched = streams_->Mark();
  // In forward order, as the next forward reads them.
  std::vector<int> order = speculated_;
  std::sort(order.begin(), order.end());
  for (int i : order) batch.groups.push_back(HostGroup(i));
  speculated_.clear();
  updater_->Submit(std::move(batch));
}

void ShardOptimizer::PublishBehind() {
  HostUpdater::Batch batch;
  batch.kind = HostUpdater::Kind::kPublish;
  batch.launched = streams_->Mark();
  for (int i : host_groups_) {
    if (!behind_[i]) continue;
    batch.groups.push_back(HostGroup(i));
    behind_[i] = 0;
  }
  if (!batch.groups.empty()) updater_->Submit(std::move(batch));
}

absl::Status ShardOptimizer::Abandon() {
  // A step without an update still publishes the last one: the next forward is a step
  // behind it, as after every launch (Note [delayed update]).
  PublishBehind();
  Settle({}, 0, 0.0f, /*right=*/false, /*apply=*/false);
  return updater_ ? updater_->WaitAll() : absl::OkStatus();
}

bool ShardOptimizer::Updated(int i) const {
  return state_[i].where == plan::Where::kDevice || updater_->Done(i);
}

absl::Status ShardOptimizer::WaitUpdated(int i) {
  if (state_[i].where == plan::Where::kDevice) {
    state_[i].copied_down.StreamWait();
    return absl::OkStatus();
  }
  return updater_->WaitDone(i);
}

absl::Status ShardOptimizer::WaitGradientRead(int i) {
  if (state_[i].where == plan::Where::kDevice) return absl::OkStatus();  // ReleaseGradients
  return updater_->WaitIdle(i);
}

absl::Status ShardOptimizer::ReleaseGradients() {
  const bool late = std::any_of(behind_.begin(), behind_.end(), [](char b) { return b != 0; });
  if (!late) return WaitAll();
  for (GroupState& st : state_) st.copied_down.StreamWait();
  return absl::OkStatus();
}

absl::Status ShardOptimizer::WaitAll() {
  for (GroupState& st : state_) st.copied_down.StreamWait();
  return updater_ ? updater_->WaitAll() : absl::OkStatus();
}

void ShardOptimizer::HarvestDeviceTime() {
  if (device_timed_ && device_end_.Done()) {
    device_seconds_ += DeviceStreams::Marker::Elapsed(device_start_, device_end_);
    device_timed_ = false;
  }
}

ShardOptimizer::Times ShardOptimizer::TakeTimes() {
  Times t;
  if (updater_) {
    const HostUpdater::Times h = updater_->TakeTimes();
    t.cpu_adam_seconds = h.cpu_adam_seconds;
    t.transfer_wait_seconds = h.transfer_wait_seconds;
    t.speculated = h.speculated;
    t.undone = h.undone;
    t.undo_seconds = h.undo_seconds;
    t.late = h.late;
  }
  HarvestDeviceTime();
  t.device_seconds = device_seconds_;
  device_seconds_ = 0.0;
  return t;
}

int64_t ShardOptimizer::device_bytes() const {
  int64_t n = 0;
  for (const GroupState& st : state_) {
    if (st.where != plan::Where::kDevice) continue;
    n += st.exp_avg.nbytes() + st.exp_avg_sq.nbytes();
    if (!st.master.is_same(st.group->shard())) n += st.master.nbytes();
  }
  return n;
}

int64_t ShardOptimizer::host_bytes() const {
  int64_t n = updater_ ? updater_->lane_bytes() : 0;
  for (const GroupState& st : state_) {
    if (st.where != plan::Where::kHost) continue;
    n += st.exp_avg.nbytes() + st.exp_avg_sq.nbytes();
    if (st.spare_master.defined())
      n += st.spare_master.nbytes() + st.spare_exp_avg.nbytes() + st.spare_exp_avg_sq.nbytes();
    if (!st.master.is_same(st.group->shard())) n += st.master.nbytes();
  }
  return n;
}

}  // namespace zerod::zero
