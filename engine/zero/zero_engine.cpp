#include "engine/zero/zero_engine.h"

#include <cmath>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "engine/util/status_macros.h"
#include "engine/zero/unit_function.h"

namespace zerod::zero {

ZeroEngine::ZeroEngine(std::vector<std::unique_ptr<models::Unit>> units, comm::Communicator* comm,
                       const EngineOptions& options)
    : comm_(comm), options_(options), units_(std::move(units)) {
  for (auto& unit : units_) {
    groups_.push_back(std::make_unique<ParamGroup>(unit.get(), comm, options.dtype, options.device));
    const int64_t shard = groups_.back()->partition().shard_numel;
    ShardState st;
    // In float32 the shard itself is the master copy: no second float32 buffer.
    st.master = options.dtype == torch::kFloat32 ? groups_.back()->shard()
                                                 : torch::zeros({shard}, torch::kFloat32);
    st.exp_avg = torch::zeros({shard}, torch::kFloat32);
    st.exp_avg_sq = torch::zeros({shard}, torch::kFloat32);
    st.grad = torch::zeros({shard}, torch::kFloat32);
    st.persistent = unit->numel() <= options.persistence_threshold_numel;
    state_.push_back(std::move(st));
  }
  anchor_ = torch::empty({0}, torch::TensorOptions().dtype(options.dtype).device(options.device))
                .requires_grad_(true);
}

ZeroEngine::~ZeroEngine() { (void)ReleaseAll(); }

void ZeroEngine::InitWeights(uint64_t seed, double std) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < groups_.size(); ++i) {
    torch::Tensor full = models::InitialValues(*units_[i], seed, std);  // one unit at a time
    groups_[i]->LoadShard(full);
    if (options_.dtype != torch::kFloat32) {
      // The master keeps full precision: take the slice before rounding.
      const Partition& p = groups_[i]->partition();
      const int64_t valid = p.ShardValidNumel(comm_->rank());
      state_[i].master.zero_();
      if (valid > 0) {
        state_[i].master.narrow(0, 0, valid).copy_(full.narrow(0, p.ShardBegin(comm_->rank()), valid));
      }
    }
  }
}

void ZeroEngine::Check(const absl::Status& s) const {
  if (!s.ok()) throw std::runtime_error(std::string(s.message()));
}

torch::Tensor ZeroEngine::Forward(const torch::Tensor& ids) {
  torch::Tensor h = ids;
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
  ParamGroup& g = *groups_[index];
  Check(g.StartFetch());
  Prefetch(index, backward ? -1 : +1);
  Check(g.WaitFetch());
  peak_live_bytes_ = std::max(peak_live_bytes_, live_gathered_bytes());
}

void ZeroEngine::AfterForward(int index) {
  if (!state_[index].persistent) Check(groups_[index]->Release());
}

void ZeroEngine::AfterBackward(int index, const std::vector<torch::Tensor>& grads) {
  ShardState& st = state_[index];
  torch::Tensor reduced = torch::empty_like(st.grad);
  Check(groups_[index]->ReduceScatterGrads(grads, reduced));
  st.grad.add_(reduced);
  Check(groups_[index]->Release());
}

absl::Status ZeroEngine::ReleaseAll() {
  absl::Status first;
  for (auto& g : groups_) {
    if (g->state() == GroupState::kGathering) first.Update(g->WaitFetch());
    first.Update(g->Release());
  }
  return first;
}

absl::StatusOr<StepOutcome> ZeroEngine::Step(const offload::AdamWHyper& hyper, double grad_scale,
                                             double max_norm, bool check_overflow) {
  StepOutcome outcome;
  // fp16: any non-finite gradient on any rank skips the step everywhere.
  if (check_overflow) {
    int64_t bad = 0;
    for (auto& st : state_) bad |= !offload::AllFinite(st.grad.data_ptr<float>(), st.grad.numel());
    RETURN_IF_ERROR(comm_->AllReduce(&bad, 1, DType::kInt64, comm::ReduceOp::kMax));
    if (bad) {
      for (auto& st : state_) st.grad.zero_();
      outcome.skipped = true;
      return outcome;
    }
  }
  // Global norm: each rank's shard sums its squares, the sum is all-reduced.
  double sum_sq = 0.0;
  for (auto& st : state_) sum_sq += offload::SumOfSquares(st.grad.data_ptr<float>(), st.grad.numel());
  RETURN_IF_ERROR(comm_->AllReduce(&sum_sq, 1, DType::kFloat64, comm::ReduceOp::kSum));
  outcome.grad_norm = std::sqrt(sum_sq) * grad_scale;
  // Clipping as torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) if < 1.
  double factor = grad_scale;
  if (max_norm > 0.0) {
    const double coef = max_norm / (outcome.grad_norm + 1e-6);
    if (coef < 1.0) factor *= coef;
  }
  ++adam_step_;
  for (size_t i = 0; i < state_.size(); ++i) {
    ShardState& st = state_[i];
    torch::Tensor& shard = groups_[i]->shard();
    const bool fp32 = options_.dtype == torch::kFloat32;
    offload::AdamWStep(st.master.data_ptr<float>(), st.grad.data_ptr<float>(),
                       st.exp_avg.data_ptr<float>(), st.exp_avg_sq.data_ptr<float>(),
                       st.master.numel(), hyper, adam_step_, static_cast<float>(factor),
                       fp32 ? nullptr : shard.data_ptr(), ToDType(options_.dtype));
    st.grad.zero_();
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
  const bool fp32 = options_.dtype == torch::kFloat32;
  for (size_t i = 0; i < groups_.size(); ++i) {
    const int64_t shard = groups_[i]->partition().shard_numel;
    m.param_shard_bytes += shard * torch::elementSize(options_.dtype);
    m.grad_shard_bytes += shard * 4;
    // Master (unless it is the fp32 shard itself) and the two moments.
    m.optimizer_shard_bytes += shard * 4 * (fp32 ? 2 : 3);
  }
  m.gathered_bytes = live_gathered_bytes();
  m.peak_gathered_bytes = peak_live_bytes_;
  m.total_param_numel = num_parameters();
  return m;
}

}  // namespace zerod::zero
