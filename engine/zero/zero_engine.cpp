#include "engine/zero/zero_engine.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "engine/util/status_macros.h"
#include "engine/zero/unit_function.h"

namespace zerod::zero {

ZeroEngine::ZeroEngine(comm::Communicator* comm, const EngineOptions& options)
    : comm_(comm), options_(options) {}

absl::StatusOr<std::unique_ptr<ZeroEngine>> ZeroEngine::Create(
    std::vector<std::unique_ptr<models::Unit>> units, comm::Communicator* comm,
    const EngineOptions& options) {
  std::unique_ptr<ZeroEngine> engine(new ZeroEngine(comm, options));
  RETURN_IF_ERROR(engine->Build(std::move(units)));
  return engine;
}

absl::Status ZeroEngine::Build(std::vector<std::unique_ptr<models::Unit>> units) {
  units_ = std::move(units);
  streams_ = std::make_unique<DeviceStreams>(options_.device);
  const bool gpu = options_.device.is_cuda();
  // Blocks of 256 MiB suit billions of parameters; a small model gets blocks about its
  // own size (more blocks follow if the estimate is short), so the memory report shows
  // what the job holds rather than one mostly empty block.
  int64_t estimate = 0;
  for (const auto& unit : units_) {
    const int64_t shard = unit->numel() / comm_->world_size() + 256;
    estimate += shard * (static_cast<int64_t>(torch::elementSize(options_.dtype)) + 4);
  }
  const size_t block =
      std::clamp<size_t>(static_cast<size_t>(estimate) * 5 / 4, size_t{1} << 20, size_t{256} << 20);
  pool_ = std::make_unique<offload::PinnedPool>(
      offload::PinnedPool::Options{.pin = gpu && options_.pin_memory, .block_bytes = block});
  offload::PinnedPool* shard_pool = (!gpu || options_.offload_param) ? pool_.get() : nullptr;
  int64_t largest_shard = 0;
  try {
    for (auto& unit : units_) {
      groups_.push_back(std::make_unique<ParamGroup>(unit.get(), comm_, streams_.get(), shard_pool,
                                                     options_.dtype));
      ParamGroup& g = *groups_.back();
      const int64_t shard = g.partition().shard_numel;
      largest_shard = std::max(largest_shard, shard);
      ShardState st;
      // On CPU in float32 the shard itself is the master copy: no second buffer.
      const bool shard_is_master = options_.dtype == torch::kFloat32 && g.shard().is_cpu();
      if (shard_is_master) st.master = g.shard();
      if (options_.optimizer_state) {
        if (!shard_is_master) st.master = torch::zeros({shard}, torch::kFloat32);
        st.exp_avg = torch::zeros({shard}, torch::kFloat32);
        st.exp_avg_sq = torch::zeros({shard}, torch::kFloat32);
        // Gradients arrive by asynchronous copies from the GPU: they need pinned memory.
        ASSIGN_OR_RETURN(st.grad, PoolTensor(pool_.get(), shard, torch::kFloat32));
        st.grad.zero_();
      }
      st.persistent = unit->numel() <= options_.persistence_threshold_numel;
      state_.push_back(std::move(st));
    }
  } catch (const std::exception& e) {
    return absl::ResourceExhaustedError(e.what());
  }
  if (gpu && options_.optimizer_state) {
    ASSIGN_OR_RETURN(staging_, PoolTensor(pool_.get(), largest_shard, torch::kFloat32));
  }
  anchor_ = torch::empty({0}, torch::TensorOptions().dtype(options_.dtype).device(options_.device))
                .requires_grad_(true);
  return MapBorrowedGroups();
}

absl::Status ZeroEngine::MapBorrowedGroups() {
  const int n = num_units();
  uses_.assign(n, {});
  pending_.assign(n, {});
  for (int i = 0; i < n; ++i) {
    uses_[i].push_back(i);
    pending_[i].grads.resize(units_[i]->params().size());
  }
  for (int i = 0; i < n; ++i) {
    for (const models::BorrowedParam& b : units_[i]->borrowed()) {
      if (b.owner < 0 || b.owner >= n || b.owner == i ||
          b.index >= units_[b.owner]->params().size()) {
        return absl::InvalidArgumentError(absl::StrCat(units_[i]->name(), " borrows parameter ",
                                                       b.index, " of unit ", b.owner,
                                                       ", which does not exist"));
      }
      if (std::find(uses_[i].begin(), uses_[i].end(), b.owner) != uses_[i].end()) continue;
      uses_[i].push_back(b.owner);
      ++pending_[b.owner].expected;
    }
  }
  return absl::OkStatus();
}

ZeroEngine::~ZeroEngine() {
  (void)ReleaseAll();
  (void)DrainGradients();
}

void ZeroEngine::SetShardValues(size_t i, const torch::Tensor& values) {
  torch::NoGradGuard no_grad;
  // The master keeps full precision; the shard is its compute-dtype rounding.
  const torch::Tensor& master = state_[i].master;
  if (master.defined() && !master.is_same(groups_[i]->shard())) master.copy_(values);
  groups_[i]->shard().copy_(values);
}

void ZeroEngine::InitWeights(uint64_t seed, double std) {
  for (size_t i = 0; i < groups_.size(); ++i) {
    torch::Tensor full = models::InitialValues(*units_[i], seed, std);  // one unit at a time
    const Partition& p = groups_[i]->partition();
    const int64_t valid = p.ShardValidNumel(comm_->rank());
    torch::Tensor values = torch::zeros({p.shard_numel}, torch::kFloat32);
    if (valid > 0)
      values.narrow(0, 0, valid).copy_(full.narrow(0, p.ShardBegin(comm_->rank()), valid));
    SetShardValues(i, values);
  }
}

absl::Status ZeroEngine::LoadWeights(const models::CheckpointReader& reader) {
  // Straight into the float32 master, with no staging buffer: a rank's resident set
  // grows by no more than the mapped pages of the slice being copied (the reader drops
  // them after each copy), never by a copy of a unit.
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < groups_.size(); ++i) {
    const Partition& p = groups_[i]->partition();
    const int64_t begin = p.ShardBegin(comm_->rank());
    torch::Tensor& master = state_[i].master;
    const int64_t valid = p.ShardValidNumel(comm_->rank());
    master.narrow(0, valid, p.shard_numel - valid).zero_();  // padding
    for (const FlatEntry& e : groups_[i]->layout().entries) {
      // The part of this parameter that falls in this rank's shard, if any.
      const auto [lo, hi] = Intersect(e.offset, e.offset + e.numel, begin, begin + p.shard_numel);
      if (lo == hi) continue;
      RETURN_IF_ERROR(reader.ReadFloat32(e.name, e.shape, begin + lo - e.offset, hi - lo,
                                         master.data_ptr<float>() + lo));
    }
    // The shard is the master's compute-dtype rounding (or the master itself).
    if (!master.is_same(groups_[i]->shard())) groups_[i]->shard().copy_(master);
  }
  return absl::OkStatus();
}

std::vector<models::TensorSpec> ZeroEngine::ExportPlan() const {
  std::vector<models::TensorSpec> plan;
  for (const auto& unit : units_) {
    for (const auto& spec : unit->specs())
      plan.push_back({spec.name, ToDType(options_.dtype), spec.shape});
  }
  return plan;
}

absl::Status ZeroEngine::Export(models::HfExportWriter* writer) {
  absl::Status written;
  for (size_t i = 0; i < groups_.size(); ++i) {
    ParamGroup& g = *groups_[i];
    RETURN_IF_ERROR(g.StartFetch());
    RETURN_IF_ERROR(g.WaitFetch());
    if (writer != nullptr && written.ok()) {
      torch::NoGradGuard no_grad;
      for (size_t k = 0; k < units_[i]->specs().size() && written.ok(); ++k) {
        torch::Tensor host = units_[i]->params()[k].detach().to(torch::kCPU).contiguous();
        written = writer->Append(units_[i]->specs()[k].name, host.data_ptr());
      }
    }
    RETURN_IF_ERROR(g.Release());
  }
  if (writer != nullptr && written.ok()) written = writer->Finish();
  return comm::AgreeOnStatus(*comm_, written);
}

void ZeroEngine::Check(const absl::Status& s) const {
  if (!s.ok()) throw std::runtime_error(std::string(s.message()));
}

torch::Tensor ZeroEngine::Forward(const torch::Tensor& ids) {
  torch::Tensor h = ids.to(options_.device);
  if (!torch::GradMode::is_enabled()) {
    for (int i = 0; i < num_units(); ++i) {
      FetchForRun(i, /*backward=*/false);
      h = units_[i]->Forward(h);
      AfterForward(i);
    }
    return h;
  }
  for (int i = 0; i < num_units(); ++i) h = RunUnit(*this, i, h, anchor_);
  return h;
}

void ZeroEngine::Prefetch(int from, int direction) {
  // Start gathers of the next units in execution order while their total stays within
  // the prefetch bucket and the live-parameter bound.
  int64_t bucket = 0;
  int64_t live = live_gathered_bytes() / torch::elementSize(options_.dtype);
  for (int k = from + direction; k >= 0 && k < num_units(); k += direction) {
    ParamGroup& g = *groups_[k];
    if (g.state() != GroupState::kSharded) continue;
    const int64_t n = g.partition().padded_numel;
    if (bucket + n > options_.prefetch_bucket_numel || live + n > options_.max_live_numel) break;
    Check(g.StartFetch());
    bucket += n;
    live += n;
  }
}

void ZeroEngine::FetchForRun(int index, bool backward) {
  for (int g : uses_[index]) Check(groups_[g]->StartFetch());
  Prefetch(index, backward ? -1 : +1);
  for (int g : uses_[index]) Check(groups_[g]->WaitFetch());
  peak_live_bytes_ = std::max(peak_live_bytes_, live_gathered_bytes());
}

void ZeroEngine::AfterForward(int index) {
  for (int g : uses_[index]) {
    if (!state_[g].persistent) Check(groups_[g]->Release());
  }
}

void ZeroEngine::Accumulate(int group, size_t param, const torch::Tensor& grad) {
  if (!grad.defined()) return;  // unused: counts as zero
  torch::Tensor& sum = pending_[group].grads[param];
  sum = sum.defined() ? sum + grad : grad;
}

void ZeroEngine::AfterBackward(int index, const std::vector<torch::Tensor>& grads) {
  if (!options_.optimizer_state)
    Check(absl::FailedPreconditionError("backward on an engine built for forward only"));
  const models::Unit& unit = *units_[index];
  const size_t own = unit.params().size();
  for (size_t k = 0; k < own; ++k) Accumulate(index, k, grads[k]);
  for (size_t j = 0; j < unit.borrowed().size(); ++j) {
    Accumulate(unit.borrowed()[j].owner, unit.borrowed()[j].index, grads[own + j]);
  }
  for (int g : uses_[index]) {
    PendingGrad& p = pending_[g];
    if (++p.received < p.expected) continue;  // a tied weight's other use is still to come
    std::vector<torch::Tensor> sum(p.grads.size());
    sum.swap(p.grads);
    p.received = 0;
    ReduceScatterGroup(g, sum);
  }
  for (int g : uses_[index]) Check(groups_[g]->Release());
}

void ZeroEngine::ReduceScatterGroup(int index, const std::vector<torch::Tensor>& grads) {
  ShardState& st = state_[index];
  ParamGroup& group = *groups_[index];
  if (!streams_->cuda()) {
    auto reduced = group.StartReduceScatter(grads);
    Check(reduced.status());
    Check(reduced->work->Wait());
    if (st.has_grad)
      st.grad.add_(reduced->shard);
    else
      st.grad.copy_(reduced->shard);
    st.has_grad = true;
    return;
  }
  // GPU: the whole gradient pipeline runs on the copy-out stream, behind the backward
  // kernels that produced `grads` and beside the next unit's backward.
  {
    auto scope = streams_->Enter(SideStream::kCopyOut);
    for (const auto& g : grads) streams_->KeepAliveOn(g, SideStream::kCopyOut);
    auto reduced = group.StartReduceScatter(grads);
    Check(reduced.status());
    Check(reduced->work->Wait());  // copy-out waits for the reduce-scatter
    reduced->flat = torch::Tensor();
    torch::Tensor shard32 = reduced->shard.to(torch::kFloat32);
    if (st.has_grad) device_sq_sum_valid_ = false;
    if (device_sq_sum_valid_) {
      // Reduced in float64 without materialising a float64 copy of the shard.
      torch::Tensor norm = at::linalg_vector_norm(shard32, 2, c10::nullopt, false, torch::kFloat64);
      torch::Tensor sq = norm * norm;
      device_sq_sum_ = device_sq_sum_.defined() ? device_sq_sum_ + sq : sq;
    }
    if (!st.has_grad) {
      st.grad.copy_(shard32, /*non_blocking=*/true);
      grad_copies_.push_back(streams_->Mark());
    } else {
      // Micro-batches after the first: through the staging buffer, added on the host.
      Check(DrainGradients());
      staging_.narrow(0, 0, shard32.numel()).copy_(shard32, /*non_blocking=*/true);
      staged_copy_ = streams_->Mark();
      staged_group_ = index;
    }
    st.has_grad = true;
  }
}

absl::Status ZeroEngine::DrainGradients() {
  for (auto& copy : grad_copies_) copy.HostWait();
  grad_copies_.clear();
  if (staged_group_ >= 0) {
    staged_copy_.HostWait();
    torch::Tensor& grad = state_[staged_group_].grad;
    grad.add_(staging_.narrow(0, 0, grad.numel()));
    staged_group_ = -1;
  }
  return comm_->Synchronize();
}

absl::Status ZeroEngine::ReleaseAll() {
  for (PendingGrad& p : pending_) {  // a backward cut short leaves partial sums
    for (auto& g : p.grads) g = torch::Tensor();
    p.received = 0;
  }
  absl::Status first;
  for (auto& g : groups_) {
    if (g->state() == GroupState::kGathering) first.Update(g->WaitFetch());
    first.Update(g->Release());
  }
  return first;
}

absl::StatusOr<StepOutcome> ZeroEngine::Step(const offload::AdamWHyper& hyper, double grad_scale,
                                             double max_norm, bool check_overflow) {
  if (!options_.optimizer_state)
    return absl::FailedPreconditionError("Step on an engine built for forward only");
  StepOutcome outcome;
  const auto drain_start = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(DrainGradients());
  outcome.drain_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - drain_start).count();
  for (auto& st : state_) {
    if (!st.has_grad) st.grad.zero_();  // a unit without gradient this step (unused)
    st.has_grad = false;
  }
  // This rank's sum of squares: from the GPU when it could be accumulated there,
  // else one pass over the host shards.
  double sum_sq = 0.0;
  if (device_sq_sum_valid_ && device_sq_sum_.defined()) {
    sum_sq = device_sq_sum_.item<double>();
  } else {
    for (auto& st : state_)
      sum_sq += offload::SumOfSquares(st.grad.data_ptr<float>(), st.grad.numel());
  }
  device_sq_sum_ = torch::Tensor();
  device_sq_sum_valid_ = true;
  // fp16: any non-finite gradient on any rank skips the step everywhere. A non-finite
  // element makes the sum of squares non-finite too.
  if (check_overflow) {
    int64_t bad = !std::isfinite(sum_sq);
    RETURN_IF_ERROR(comm_->AllReduce(&bad, 1, DType::kInt64, comm::ReduceOp::kMax));
    if (bad) {
      outcome.skipped = true;
      return outcome;
    }
  }
  // Global norm: each rank's shard sums its squares, the sum is all-reduced.
  RETURN_IF_ERROR(comm_->AllReduce(&sum_sq, 1, DType::kFloat64, comm::ReduceOp::kSum));
  outcome.grad_norm = std::sqrt(sum_sq) * grad_scale;
  // Clipping as torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) if < 1.
  double factor = grad_scale;
  if (max_norm > 0.0) {
    const double coef = max_norm / (outcome.grad_norm + 1e-6);
    if (coef < 1.0) factor *= coef;
  }
  ++adam_step_;
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < state_.size(); ++i) {
    ShardState& st = state_[i];
    torch::Tensor& shard = groups_[i]->shard();
    const bool writes_shard_in_place =
        !st.master.is_same(shard) && shard.is_cpu() && options_.dtype != torch::kFloat32;
    offload::AdamWStep(st.master.data_ptr<float>(), st.grad.data_ptr<float>(),
                       st.exp_avg.data_ptr<float>(), st.exp_avg_sq.data_ptr<float>(),
                       st.master.numel(), hyper, adam_step_, static_cast<float>(factor),
                       writes_shard_in_place ? shard.data_ptr() : nullptr, ToDType(options_.dtype));
    // A float32 host shard distinct from the master, or a shard on the GPU, is
    // refreshed from the master.
    if (!writes_shard_in_place && !st.master.is_same(shard)) shard.copy_(st.master);
  }
  return outcome;
}

int64_t ZeroEngine::live_gathered_bytes() const {
  int64_t live = 0;
  for (const auto& g : groups_) live += g->gathered_bytes();
  return live;
}

int64_t ZeroEngine::num_parameters() const {
  int64_t n = 0;
  for (const auto& u : units_) n += u->numel();
  return n;
}

MemoryStats ZeroEngine::Memory() const {
  MemoryStats m;
  for (size_t i = 0; i < groups_.size(); ++i) {
    const int64_t shard = groups_[i]->partition().shard_numel;
    m.param_shard_bytes += shard * torch::elementSize(options_.dtype);
    if (!options_.optimizer_state) continue;
    m.grad_shard_bytes += shard * 4;
    // Master (unless it is the shard itself) and the two moments.
    const bool shared_master = state_[i].master.is_same(groups_[i]->shard());
    m.optimizer_shard_bytes += shard * 4 * (shared_master ? 2 : 3);
  }
  m.gathered_bytes = live_gathered_bytes();
  m.peak_gathered_bytes = peak_live_bytes_;
  m.total_param_numel = num_parameters();
  m.pinned_host_bytes = pool_->pinned() ? pool_->reserved_bytes() : 0;
  m.pageable_host_bytes = pool_->pinned() ? 0 : pool_->reserved_bytes();
  m.gpu_allocated_bytes = streams_->allocated_bytes();
  m.gpu_reserved_bytes = streams_->reserved_bytes();
  m.gpu_peak_bytes = streams_->peak_allocated_bytes();
  return m;
}

}  // namespace zerod::zero
