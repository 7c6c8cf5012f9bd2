#include "tests/support/plain_trainer.h"

#include <torch/torch.h>

#include "engine/config/ds_config.h"
#include "engine/data/sampler.h"
#include "engine/models/decoder.h"
#include "engine/models/lm_loss.h"
#include "engine/models/registry.h"
#include "tests/support/plain_model.h"

namespace zerod::testing {

std::vector<double> PlainTrainingLosses(const JobSpec& spec, const std::string& device_name,
                                        int64_t delay_after) {
  const torch::Device device(device_name);
  const config::DsConfig ds = config::LoadDsConfig(spec.ds_config_path, 1).value();
  const models::ModelConfig mc = models::LoadModelConfig(spec.model_dir).value();
  auto dataset =
      data::TokenDataset::Open(spec.data_path, data::TokenDType::kUInt16, mc.vocab_size()).value();
  auto sampler =
      data::DistributedSampler::Create(
          dataset.get(), {spec.seq_len, ds.train_batch_size, ds.train_batch_size, 1, 1, spec.seed})
          .value();

  PlainModel model = BuildPlainModel(mc, spec.seed, ds.adamw, device);
  auto& units = model.units;
  const std::vector<torch::Tensor>& params = model.params;
  torch::optim::AdamW& opt = *model.optimizer;
  std::vector<double> losses;
  std::vector<torch::Tensor> latest;  // delayed: what the last update left
  const int64_t L = spec.seq_len;
  const models::DecoderConfig* decoder = mc.decoder();
  const bool routed = decoder != nullptr && decoder->moe.num_experts > 0;
  const double aux_coef =
      routed && decoder->moe.output_router_logits ? decoder->moe.router_aux_loss_coef : 0.0;
  for (int64_t step = 0; step < spec.steps; ++step) {
    for (auto& group : opt.param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options())
          .lr(optim::LearningRate(ds.scheduler, step));
    }
    opt.zero_grad();
    std::vector<int64_t> tokens = sampler.GlobalBatch(step);
    torch::Tensor batch =
        torch::from_blob(tokens.data(), {ds.train_batch_size, L + 1}, torch::kInt64).to(device);
    torch::Tensor loss;
    if (!routed) {
      torch::Tensor h = batch.narrow(1, 0, L);
      for (auto& unit : units) h = unit->Forward(h);
      loss = models::CausalLmLoss(h, batch.narrow(1, 1, L));
    } else {
      // A mixture of experts: the load-balancing loss is not linear in the batch, so the
      // loss is the mean over the micro-batches (of micro_batch_per_gpu sequences, in the
      // sampler's order) of each one's cross-entropy plus its aux loss, as zerod and
      // transformers (one forward per micro-batch) define it.
      const int64_t micro = ds.micro_batch_per_gpu, n = ds.train_batch_size / micro;
      for (int64_t m = 0; m < n; ++m) {
        torch::Tensor part = batch.narrow(0, m * micro, micro);
        torch::Tensor h = part.narrow(1, 0, L);
        std::vector<models::RouterStats> stats;
        for (auto& unit : units) {
          h = unit->Forward(h);
          if (models::RouterStats r = unit->TakeRouterStats(); r.defined()) stats.push_back(r);
        }
        torch::Tensor l = models::CausalLmLoss(h, part.narrow(1, 1, L));
        if (aux_coef > 0.0) l = l + models::RouterAuxLoss(stats) * aux_coef;
        loss = m == 0 ? l / n : loss + l / n;
      }
    }
    loss.backward();
    // An expert no token chose has no gradient; zerod (and transformers, whose experts are
    // one 3-D parameter a layer) update it with a zero one (zero_engine.h, Note [unused
    // experts]), torch's AdamW would skip it.
    for (auto& p : params) {
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
    }
    if (ds.gradient_clipping > 0) torch::nn::utils::clip_grad_norm_(params, ds.gradient_clipping);
    if (delay_after >= 0 && step + 1 > delay_after) {
      // The weights the next step runs on are the ones before this update: the update is
      // made on the latest weights (`latest`, what the last update left) and kept aside.
      torch::NoGradGuard no_grad;
      if (latest.empty()) {
        for (auto& p : params) latest.push_back(p.detach().clone());
      }
      std::vector<torch::Tensor> before;
      for (size_t i = 0; i < params.size(); ++i) {
        before.push_back(latest[i].clone());
        params[i].copy_(latest[i]);
      }
      opt.step();
      for (size_t i = 0; i < params.size(); ++i) {
        latest[i].copy_(params[i]);
        params[i].copy_(before[i]);
      }
    } else {
      opt.step();
    }
    losses.push_back(loss.item<double>());
  }
  return losses;
}

}  // namespace zerod::testing
