// Evaluate (engine/api.h): the usual perplexity evaluation of a causal LM. Windows of
// seq_len + 1 tokens do not overlap, so each token is a target at most once, with at most
// seq_len tokens of context. The model runs ZeRO-3 sharded, forward only: the engine
// holds no gradient or optimizer state, and no autograd graph is built.
//
// World-size independence: each rank sums its windows' per-token losses in float64 and
// the sums (and token counts) are all-reduced. With a DeepSpeed config a forward holds
// train_micro_batch_size_per_gpu windows at any world size, so each window's logits are
// computed by the same kernels on the same shapes and only the order of the float64
// sum differs between world sizes.
#include <torch/torch.h>

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "engine/data/eval_windows.h"
#include "engine/train/engine_setup.h"
#include "engine/util/status_macros.h"
#include "engine/zero/status_exception.h"

namespace zerod {
namespace {

// Everything an evaluation needs, validated; built identically on every rank.
struct EvalSetup {
  config::DsConfig ds;
  models::ModelConfig model;
  std::unique_ptr<data::TokenDataset> dataset;
};

// Without a DeepSpeed config: float32, one window per rank per batch and per forward.
config::DsConfig DefaultDsConfig(int world_size) {
  config::DsConfig ds;
  ds.train_batch_size = world_size;
  ds.micro_batch_per_gpu = 1;
  ds.gradient_accumulation_steps = 1;
  return ds;
}

absl::StatusOr<EvalSetup> Validate(const EvalSpec& spec, int world_size) {
  EvalSetup s;
  if (spec.seq_len < 1)
    return absl::InvalidArgumentError(absl::StrCat("--seq-len ", spec.seq_len, " < 1"));
  if (spec.batches < 0)
    return absl::InvalidArgumentError(absl::StrCat("--batches ", spec.batches, " < 1"));
  if (spec.ds_config_path.empty()) {
    s.ds = DefaultDsConfig(world_size);
  } else {
    ASSIGN_OR_RETURN(s.ds, config::LoadDsConfig(spec.ds_config_path, world_size));
  }
  ASSIGN_OR_RETURN(train::ModelAndData md, train::LoadModelAndData(spec.model_dir, spec.data_path,
                                                                   spec.data_dtype, spec.seq_len));
  s.model = std::move(md.model);
  s.dataset = std::move(md.dataset);
  return s;
}

// Sum of the per-token losses of every scored window of this rank, and their count.
struct LossSum {
  double nats = 0.0;
  double tokens = 0.0;
};

absl::StatusOr<LossSum> ScoreRank(zero::ZeroEngine& engine, const data::EvalWindows& windows,
                                  int rank) {
  const int64_t L = windows.config().seq_len;
  const int64_t m = windows.config().micro_batch;
  LossSum sum;
  torch::NoGradGuard no_grad;
  // The evaluation pass: the boundary of Note [exceptions].
  auto pass = [&] {
    for (int64_t b = 0; b < windows.num_batches(); ++b) {
      for (int64_t micro = 0; micro < windows.micro_steps(); ++micro) {
        const std::vector<int64_t> index = windows.MicroBatchWindows(b, micro, rank);
        std::vector<int64_t> tokens = windows.Tokens(index);
        torch::Tensor batch = torch::from_blob(tokens.data(), {m, L + 1}, torch::kInt64);
        // Per-token cross-entropy in float32 (as training's loss, the logits in chunks),
        // summed per window in float64: (m, L) -> (m).
        torch::Tensor nats = engine.ForwardLosses(batch.narrow(1, 0, L), batch.narrow(1, 1, L));
        torch::Tensor per_window = nats.to(torch::kFloat64).sum(1).cpu();
        for (int64_t j = 0; j < m; ++j) {
          if (index[j] < 0) continue;  // padding past the last window
          sum.nats += per_window[j].item<double>();
          sum.tokens += static_cast<double>(L);
        }
      }
    }
  };
  RETURN_IF_ERROR(zero::CatchToStatus(absl::StatusCode::kInternal, "evaluation forward", pass));
  RETURN_IF_ERROR(engine.ReleaseAll());
  return sum;
}

}  // namespace

absl::StatusOr<EvalResult> Evaluate(const EvalSpec& spec, comm::Communicator* comm) {
  train::ShareCpuThreads(*comm);
  absl::StatusOr<EvalSetup> setup = Validate(spec, comm->world_size());
  absl::StatusOr<data::EvalWindows> windows = absl::UnknownError("not built");
  if (setup.ok()) {
    const config::DsConfig& ds = setup->ds;
    windows = data::EvalWindows::Create(setup->dataset.get(),
                                        {spec.seq_len, ds.train_batch_size, ds.micro_batch_per_gpu,
                                         comm->world_size(), spec.batches});
  }
  // Every rank must agree before any collective: one rank's missing file fails all.
  RETURN_IF_ERROR(comm::AgreeOnStatus(*comm, setup.ok() ? windows.status() : setup.status()));
  zero::EngineOptions opts = train::EngineOptionsFor(setup->ds, *comm);
  opts.optimizer_state = false;
  ASSIGN_OR_RETURN(auto engine, train::CreateEngine(setup->model, opts, *comm));
  ASSIGN_OR_RETURN(
      const std::string weights,
      train::LoadOrInitWeights(*engine, spec.model_dir, spec.seed, setup->model.initializer_range(),
                               /*random_init=*/false, *comm));
  if (comm->rank() == 0) std::fprintf(stderr, "zerod: weights: %s\n", weights.c_str());

  absl::StatusOr<LossSum> local = ScoreRank(*engine, *windows, comm->rank());
  RETURN_IF_ERROR(comm::AgreeOnStatus(*comm, local.status()));
  double sums[2] = {local->nats, local->tokens};
  RETURN_IF_ERROR(comm->AllReduce(sums, 2, DType::kFloat64, comm::ReduceOp::kSum));
  EvalResult result;
  result.tokens = static_cast<int64_t>(sums[1]);
  result.windows = windows->num_windows();
  result.loss = sums[0] / sums[1];
  result.perplexity = std::exp(result.loss);
  return result;
}

}  // namespace zerod
