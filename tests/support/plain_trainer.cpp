#include "tests/support/plain_trainer.h"

#include <torch/torch.h>

#include "engine/config/ds_config.h"
#include "engine/data/sampler.h"
#include "engine/models/decoder.h"
#include "engine/models/lm_loss.h"
#include "engine/models/registry.h"

namespace zerod::testing {

std::vector<double> PlainTrainingLosses(const JobSpec& spec, const std::string& device_name) {
  const torch::Device device(device_name);
  const config::DsConfig ds = config::LoadDsConfig(spec.ds_config_path, 1).value();
  const models::ModelConfig mc = models::LoadModelConfig(spec.model_dir).value();
  auto dataset =
      data::TokenDataset::Open(spec.data_path, data::TokenDType::kUInt16, mc.vocab_size()).value();
  auto sampler =
      data::DistributedSampler::Create(
          dataset.get(), {spec.seq_len, ds.train_batch_size, ds.train_batch_size, 1, 1, spec.seed})
          .value();

  auto units = models::BuildUnits(mc);
  std::vector<torch::Tensor> params;
  for (auto& unit : units) {
    models::BindPlain(*unit,
                      models::InitialValues(*unit, spec.seed, mc.initializer_range()).to(device),
                      torch::kFloat32);
    for (const auto& p : unit->params()) params.push_back(p);
  }
  torch::optim::AdamW opt(params, torch::optim::AdamWOptions(ds.adamw.lr)
                                      .betas({ds.adamw.beta1, ds.adamw.beta2})
                                      .eps(ds.adamw.eps)
                                      .weight_decay(ds.adamw.weight_decay));
  std::vector<double> losses;
  const int64_t L = spec.seq_len;
  for (int64_t step = 0; step < spec.steps; ++step) {
    for (auto& group : opt.param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options())
          .lr(optim::LearningRate(ds.scheduler, step));
    }
    opt.zero_grad();
    std::vector<int64_t> tokens = sampler.GlobalBatch(step);
    torch::Tensor batch =
        torch::from_blob(tokens.data(), {ds.train_batch_size, L + 1}, torch::kInt64).to(device);
    torch::Tensor h = batch.narrow(1, 0, L);
    for (auto& unit : units) h = unit->Forward(h);
    torch::Tensor loss = models::CausalLmLoss(h, batch.narrow(1, 1, L));
    loss.backward();
    if (ds.gradient_clipping > 0) torch::nn::utils::clip_grad_norm_(params, ds.gradient_clipping);
    opt.step();
    losses.push_back(loss.item<double>());
  }
  return losses;
}

}  // namespace zerod::testing
