#include "engine/zero/zero_engine.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "engine/models/torch_dtype.h"
#include "engine/optim/step_decision.h"
#include "engine/util/check.h"
#include "engine/util/status_macros.h"
#include "engine/zero/status_exception.h"
#include "engine/zero/unit_function.h"

namespace zerod::zero {
namespace {

// The placement an engine without a plan gets (evaluation, tests that build engines by
// hand): shards where offload_param says (always the host on CPU), optimizer state on
// the host, gradients held on the device.
std::vector<plan::UnitPlacement> DefaultPlacement(size_t units, bool offload_param) {
  plan::UnitPlacement p;
  p.params = offload_param ? plan::Where::kHost : plan::Where::kDevice;
  p.optimizer = plan::Where::kHost;
  p.gradients = plan::Where::kDevice;
  return std::vector<plan::UnitPlacement>(units, p);
}

bool SameHyper(const offload::AdamWHyper& a, const offload::AdamWHyper& b) {
  return a.lr == b.lr && a.beta1 == b.beta1 && a.beta2 == b.beta2 && a.eps == b.eps &&
         a.weight_decay == b.weight_decay;
}

}  // namespace

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
  streams_ = std::make_unique<DeviceStreams>(options_.device);
  const bool gpu = options_.device.is_cuda();
  std::vector<plan::UnitPlacement> placement = options_.placement;
  if (placement.empty()) placement = DefaultPlacement(units.size(), options_.offload_param || !gpu);
  if (placement.size() != units.size()) {
    return absl::InvalidArgumentError(absl::StrCat("the plan places ", placement.size(),
                                                   " units and the model has ", units.size()));
  }
  // Blocks of 256 MiB suit billions of parameters; a small model gets blocks about its
  // own size (more blocks follow if the estimate is short), so the memory report shows
  // what the job holds rather than one mostly empty block.
  int64_t estimate = 0;
  for (const auto& unit : units) {
    const int64_t shard = unit->numel() / comm_->world_size() + 256;
    estimate += shard * (static_cast<int64_t>(torch::elementSize(options_.dtype)) + 4);
  }
  const size_t block =
      std::clamp<size_t>(static_cast<size_t>(estimate) * 5 / 4, size_t{1} << 20, size_t{256} << 20);
  pool_ = std::make_unique<offload::PinnedPool>(
      offload::PinnedPool::Options{.pin = gpu && options_.pin_memory, .block_bytes = block});
  auto allocate = [&] {
    for (size_t i = 0; i < units.size(); ++i) {
      Slot slot;
      slot.unit = std::move(units[i]);
      // On CPU every shard is host memory: the pool's (the plan's kDevice there is the
      // CPU itself, so it makes no difference to where the bytes are).
      const bool host_shard = !gpu || placement[i].params == plan::Where::kHost;
      // Note [derived shard]: the plan's choice, where there is a master to derive from.
      const bool derived = options_.optimizer_state && placement[i].derived;
      slot.group =
          std::make_unique<ParamGroup>(slot.unit.get(), comm_, streams_.get(),
                                       host_shard ? pool_.get() : nullptr, options_.dtype, derived);
      slot.persistent = slot.unit->numel() <= options_.persistence_threshold_numel;
      slots_.push_back(std::move(slot));
    }
  };
  RETURN_IF_ERROR(CatchToStatus(absl::StatusCode::kResourceExhausted,
                                "cannot allocate the parameter shards the plan places", allocate));
  if (options_.optimizer_state) RETURN_IF_ERROR(BuildOptimizer(placement));
  anchor_ = torch::empty({0}, torch::TensorOptions().dtype(options_.dtype).device(options_.device))
                .requires_grad_(true);
  return MapBorrowedGroups();
}

absl::Status ZeroEngine::BuildOptimizer(const std::vector<plan::UnitPlacement>& placement) {
  std::vector<ParamGroup*> groups;
  std::vector<plan::Where> holders, where;
  std::vector<bool> speculate;
  for (size_t i = 0; i < slots_.size(); ++i) {
    groups.push_back(slots_[i].group.get());
    holders.push_back(placement[i].gradients);
    where.push_back(placement[i].optimizer);
    speculate.push_back(placement[i].speculate);
  }
  ASSIGN_OR_RETURN(
      grads_, GradStream::Create(groups, holders, options_.gradient_accumulation_steps > 1, comm_,
                                 streams_.get(), pool_.get()));
  ASSIGN_OR_RETURN(
      optimizer_,
      ShardOptimizer::Create(groups, where, speculate, grads_.get(), streams_.get(), pool_.get(),
                             {.dtype = options_.dtype,
                              .overlap = options_.overlap_optimizer,
                              .cpu_threads = options_.optimizer_threads,
                              .delay_after = options_.delayed_update_after,
                              .early = options_.early_update && options_.overlap_optimizer &&
                                       options_.delayed_update_after < 0}));
  return absl::OkStatus();
}

absl::Status ZeroEngine::MapBorrowedGroups() {
  const int n = num_units();
  for (int i = 0; i < n; ++i) {
    slots_[i].uses = {i};
    slots_[i].pending.grads.resize(slots_[i].unit->params().size());
  }
  for (int i = 0; i < n; ++i) {
    for (const models::BorrowedParam& b : slots_[i].unit->borrowed()) {
      if (b.owner < 0 || b.owner >= n || b.owner == i ||
          b.index >= slots_[b.owner].unit->params().size()) {
        return absl::InvalidArgumentError(absl::StrCat(slots_[i].unit->name(),
                                                       " borrows parameter ", b.index, " of unit ",
                                                       b.owner, ", which does not exist"));
      }
      std::vector<int>& uses = slots_[i].uses;
      if (std::find(uses.begin(), uses.end(), b.owner) != uses.end()) continue;
      uses.push_back(b.owner);
      ++slots_[b.owner].pending.expected;
    }
  }
  return absl::OkStatus();
}

ZeroEngine::~ZeroEngine() {
  (void)ReleaseAll();
  if (optimizer_) (void)optimizer_->WaitAll();
  if (grads_) (void)grads_->WaitAll();
}

void ZeroEngine::SetShardValues(int g, const torch::Tensor& values) {
  torch::NoGradGuard no_grad;
  if (!optimizer_) {
    slots_[g].group->shard().copy_(values);
    return;
  }
  // The master keeps full precision; the shard is its compute-dtype rounding.
  optimizer_->master(g).copy_(values);
  optimizer_->RefreshShard(g);
}

absl::Status ZeroEngine::WithCurrentShard(int g, const std::function<absl::Status()>& fn) {
  if (!shard_behind(g)) return fn();
  torch::NoGradGuard no_grad;
  torch::Tensor& shard = slots_[g].group->shard();
  const torch::Tensor kept = shard.clone();
  optimizer_->RefreshShard(g);
  absl::Status s = fn();
  shard.copy_(kept);
  optimizer_->MarkShardBehind(g);
  return s;
}

void ZeroEngine::RefreshShard(int g) {
  ZEROD_CHECK(optimizer_ != nullptr);
  optimizer_->RefreshShard(g);
}

torch::Tensor& ZeroEngine::master(int g) {
  ZEROD_CHECK(optimizer_ != nullptr);
  return optimizer_->master(g);
}

torch::Tensor& ZeroEngine::exp_avg(int g) {
  ZEROD_CHECK(optimizer_ != nullptr);
  return optimizer_->exp_avg(g);
}

torch::Tensor& ZeroEngine::exp_avg_sq(int g) {
  ZEROD_CHECK(optimizer_ != nullptr);
  return optimizer_->exp_avg_sq(g);
}

ParamGroup& ZeroEngine::group(int i) {
  ZEROD_CHECK(optimizer_ == nullptr || optimizer_->Updated(i));
  return *slots_[i].group;
}

torch::Tensor ZeroEngine::Forward(const torch::Tensor& ids, const models::SequenceLayout& layout) {
  return Run(ids, torch::empty({0}, torch::kInt64), layout);
}

torch::Tensor ZeroEngine::ForwardLosses(const torch::Tensor& ids, const torch::Tensor& targets,
                                        const models::SequenceLayout& layout) {
  return Run(ids, targets.to(options_.device), layout);
}

torch::Tensor ZeroEngine::Run(const torch::Tensor& ids, const torch::Tensor& targets,
                              const models::SequenceLayout& given) {
  absl::StatusOr<models::SequenceLayout> checked =
      models::LayoutFor(given, ids.size(0), ids.size(1), options_.device);
  ThrowIfError(checked.status());
  const models::SequenceLayout& layout = *checked;
  torch::Tensor h = ids.to(options_.device);
  const torch::Tensor none = torch::empty({0}, torch::kInt64);
  const int last = num_units() - 1;
  router_.clear();
  if (!torch::GradMode::is_enabled()) {
    for (int i = 0; i < num_units(); ++i) {
      FetchForRun(i, /*backward=*/false);
      models::Unit& unit = *slots_[i].unit;
      h = i == last && targets.numel() > 0 ? unit.ForwardLoss(h, targets, layout)
                                           : unit.Forward(h, layout);
      if (models::RouterStats r = unit.TakeRouterStats(); r.defined()) router_.push_back(r);
      AfterForward(i);
    }
  } else {
    for (int i = 0; i < num_units(); ++i) {
      UnitOutput o = RunUnit(*this, i, h, anchor_, i == last ? targets : none, layout);
      h = o.out;
      if (o.router.defined()) router_.push_back(o.router);
    }
  }
  // Every unit has been fetched after its update, so this returns at once; it makes the
  // held gradients free for this step's backward (grad_stream.h), but those of late
  // updates, which AfterBackward waits for group by group (Note [delayed update]).
  if (optimizer_) ThrowIfError(optimizer_->ReleaseGradients());
  return h;
}

torch::Tensor ZeroEngine::TakeRouterAuxLoss() {
  if (step_picks_.size() < router_.size()) step_picks_.resize(router_.size());
  for (size_t l = 0; l < router_.size(); ++l) {
    const torch::Tensor& picks = router_[l].picks;
    step_picks_[l] = step_picks_[l].defined() ? step_picks_[l] + picks : picks;
  }
  torch::Tensor aux = models::RouterAuxLoss(router_);
  router_.clear();
  return aux;
}

void ZeroEngine::Prefetch(int from, int direction) {
  // Start gathers of the next units in execution order while their total stays within
  // the prefetch bucket and the live-parameter bound, stopping at the first whose update
  // has not landed yet (Note [overlapped update]).
  int64_t bucket = 0;
  int64_t live = live_gathered_bytes() / torch::elementSize(options_.dtype);
  for (int k = from + direction; k >= 0 && k < num_units(); k += direction) {
    ParamGroup& g = *slots_[k].group;
    if (g.state() != GroupState::kSharded) continue;
    if (optimizer_ && !optimizer_->Updated(k)) break;
    const int64_t n = g.partition().padded_numel;
    if (bucket + n > options_.prefetch_bucket_numel || live + n > options_.max_live_numel) break;
    StartFetchAfterUpdate(k);
    bucket += n;
    live += n;
  }
}

void ZeroEngine::StartFetchAfterUpdate(int g) {
  ParamGroup& group = *slots_[g].group;
  if (group.state() != GroupState::kSharded) return;
  if (optimizer_) {
    const auto start = std::chrono::steady_clock::now();
    ThrowIfError(optimizer_->WaitUpdated(g));
    forward_wait_seconds_ +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  ThrowIfError(group.StartFetch());
}

void ZeroEngine::FetchForRun(int index, bool backward) {
  for (int g : slots_[index].uses) StartFetchAfterUpdate(g);
  Prefetch(index, backward ? -1 : +1);
  for (int g : slots_[index].uses) ThrowIfError(slots_[g].group->WaitFetch());
  peak_live_bytes_ = std::max(peak_live_bytes_, live_gathered_bytes());
}

void ZeroEngine::AfterForward(int index) {
  for (int g : slots_[index].uses) {
    if (!slots_[g].persistent) ThrowIfError(slots_[g].group->Release());
  }
}

void ZeroEngine::Accumulate(int group, size_t param, const torch::Tensor& grad) {
  if (!grad.defined()) return;  // unused: counts as zero
  torch::Tensor& sum = slots_[group].pending.grads[param];
  sum = sum.defined() ? sum + grad : grad;
}

void ZeroEngine::AfterBackward(int index, const std::vector<torch::Tensor>& grads) {
  if (!options_.optimizer_state)
    ThrowIfError(absl::FailedPreconditionError("backward on an engine built for forward only"));
  const models::Unit& unit = *slots_[index].unit;
  const size_t own = unit.params().size();
  for (size_t k = 0; k < own; ++k) Accumulate(index, k, grads[k]);
  for (size_t j = 0; j < unit.borrowed().size(); ++j) {
    Accumulate(unit.borrowed()[j].owner, unit.borrowed()[j].index, grads[own + j]);
  }
  for (int g : slots_[index].uses) {
    PendingGrad& p = slots_[g].pending;
    if (++p.received < p.expected) continue;  // a tied weight's other use is still to come
    std::vector<torch::Tensor> sum(p.grads.size());
    sum.swap(p.grads);
    p.received = 0;
    const auto start = std::chrono::steady_clock::now();
    ThrowIfError(optimizer_->WaitGradientRead(g));
    gradient_wait_seconds_ +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    ThrowIfError(grads_->Issue(g, sum));
    MaybeSpeculate(g);
  }
  for (int g : slots_[index].uses) ThrowIfError(slots_[g].group->Release());
}

void ZeroEngine::MaybeSpeculate(int g) {
  if (!prepared_.armed || !optimizer_->CanSpeculate(g, prepared_.decided)) return;
  // Undecided, guess as the last step went (Note [speculative update]): after a step that
  // clipped or skipped, the next most likely does too, and its speculation would be dropped.
  if (!prepared_.decided && !last_assumption_held_) return;
  const int passes = grads_->micro_batches(g);
  const int final_pass = static_cast<int>(options_.gradient_accumulation_steps);
  if (passes > final_pass) prepared_.spoiled = true;  // more passes than announced
  if (passes != final_pass || !grads_->CompleteAfterIssue(g)) return;
  ThrowIfError(optimizer_->Speculate(g, prepared_.hyper, adam_step_ + 1, prepared_.factor,
                                     grads_->MarkIssued()));
}

void ZeroEngine::PrepareStep(const offload::AdamWHyper& hyper, double grad_scale, bool decided) {
  if (!optimizer_) return;
  prepared_ = {
      .armed = true, .hyper = hyper, .factor = static_cast<float>(grad_scale), .decided = decided};
}

absl::StatusOr<int64_t> ZeroEngine::TakeUnusedExperts() {
  std::vector<torch::Tensor> picks;
  picks.swap(step_picks_);
  if (picks.empty()) return 0;
  // Counts of whole tokens, exact in float64 for any batch.
  torch::Tensor all = torch::stack(picks).to(torch::kCPU, torch::kFloat64).contiguous();
  RETURN_IF_ERROR(comm_->AllReduce(all.data_ptr<double>(), static_cast<size_t>(all.numel()),
                                   DType::kFloat64, comm::ReduceOp::kSum));
  return all.eq(0).sum().item<int64_t>();
}

absl::Status ZeroEngine::AbandonStep() {
  step_picks_.clear();
  prepared_ = {};
  return optimizer_ ? optimizer_->Abandon() : absl::OkStatus();
}

absl::Status ZeroEngine::ReleaseAll() {
  absl::Status first;
  for (Slot& slot : slots_) {
    // A backward cut short leaves partial sums.
    for (auto& g : slot.pending.grads) g = torch::Tensor();
    slot.pending.received = 0;
    if (slot.group->state() == GroupState::kGathering) first.Update(slot.group->WaitFetch());
    first.Update(slot.group->Release());
  }
  return first;
}

absl::Status ZeroEngine::FinishUpdates() {
  return optimizer_ ? optimizer_->WaitAll() : absl::OkStatus();
}

absl::StatusOr<StepOutcome> ZeroEngine::Step(const offload::AdamWHyper& hyper, double grad_scale,
                                             double max_norm, bool check_overflow) {
  if (!options_.optimizer_state)
    return absl::FailedPreconditionError("Step on an engine built for forward only");
  StepOutcome outcome;
  const auto drain_start = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(grads_->WaitAll());
  outcome.drain_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - drain_start).count();
  ASSIGN_OR_RETURN(const optim::StepDecision decision,
                   optim::DecideStep(grads_->LocalSumOfSquares(),
                                     {grad_scale, max_norm, check_overflow}, *comm_));
  outcome.skipped = decision.skipped;
  outcome.grad_norm = decision.grad_norm;
  const Prepared prepared = prepared_;
  prepared_ = {};
  const float factor = static_cast<float>(decision.factor);
  // The speculation stands only if it assumed bitwise what the serial update now uses.
  outcome.speculation_right = prepared.armed && !prepared.spoiled && !decision.skipped &&
                              factor == prepared.factor && SameHyper(hyper, prepared.hyper);
  // Whether this step's decision was the one a speculation assumes (nothing clipped or
  // skipped), speculated or not: the next step guesses the same.
  last_assumption_held_ = !decision.skipped && factor == static_cast<float>(grad_scale);
  if (!decision.skipped) {
    ++adam_step_;
    RETURN_IF_ERROR(optimizer_->Launch(hyper, adam_step_, factor, outcome.speculation_right));
  } else {
    RETURN_IF_ERROR(optimizer_->Abandon());
  }
  grads_->Reset();
  return outcome;
}

OptimizerTimes ZeroEngine::TakeOptimizerTimes() {
  OptimizerTimes t;
  if (optimizer_) {
    const ShardOptimizer::Times o = optimizer_->TakeTimes();
    t.cpu_seconds = o.cpu_adam_seconds;
    t.gpu_seconds = o.device_seconds;
    t.transfer_wait_seconds = o.transfer_wait_seconds;
    t.speculated_units = o.speculated;
    t.undone_units = o.undone;
    t.undo_seconds = o.undo_seconds;
    t.late_units = o.late;
  }
  t.forward_wait_seconds = forward_wait_seconds_;
  forward_wait_seconds_ = 0.0;
  t.gradient_wait_seconds = gradient_wait_seconds_;
  gradient_wait_seconds_ = 0.0;
  return t;
}

int64_t ZeroEngine::live_gathered_bytes() const {
  int64_t live = 0;
  for (const Slot& slot : slots_) live += slot.group->gathered_bytes();
  return live;
}

int64_t ZeroEngine::num_parameters() const {
  int64_t n = 0;
  for (const Slot& slot : slots_) n += slot.unit->numel();
  return n;
}

MemoryStats ZeroEngine::Memory() const {
  MemoryStats m;
  for (const Slot& slot : slots_) {
    const int64_t bytes = slot.group->shard_bytes();
    m.param_shard_bytes += bytes;
    if (bytes > 0 && slot.group->shard().is_cuda()) m.param_gpu_bytes += bytes;
  }
  if (optimizer_) {
    m.grad_gpu_bytes = grads_->device_bytes();
    m.grad_shard_bytes = grads_->device_bytes() + grads_->host_bytes();
    m.optimizer_gpu_bytes = optimizer_->device_bytes();
    m.optimizer_shard_bytes = optimizer_->device_bytes() + optimizer_->host_bytes();
  }
  m.gathered_bytes = live_gathered_bytes();
  m.peak_gathered_bytes = peak_live_bytes_;
  m.total_param_numel = num_parameters();
  m.pinned_host_bytes = pool_->pinned() ? pool_->reserved_bytes() : 0;
  m.pageable_host_bytes = pool_->pinned() ? 0 : pool_->reserved_bytes();
  m.gpu_allocated_bytes = streams_->allocated_bytes();
  m.gpu_reserved_bytes = streams_->reserved_bytes();
  m.gpu_peak_bytes = streams_->peak_allocated_bytes();
  if (!options_.device.is_cuda()) {  // on CPU every byte is host memory
    m.param_gpu_bytes = m.grad_gpu_bytes = m.optimizer_gpu_bytes = 0;
  }
  return m;
}

}  // namespace zerod::zero
