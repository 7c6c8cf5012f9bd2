#include "tests/support/plain_finetune.h"

#include <torch/torch.h>

#include "engine/config/ds_config.h"
#include "engine/data/finetune_data.h"
#include "engine/models/registry.h"
#include "engine/models/sequence_layout.h"
#include "engine/models/unit.h"
#include "engine/train/finetune_setup.h"
#include "engine/util/files.h"
#include "tests/support/plain_model.h"

namespace zerod::testing {

std::vector<double> PlainFinetuneLosses(const JobSpec& spec) {
  const models::ModelConfig mc = models::LoadModelConfig(spec.model_dir).value();
  config::DsConfig ds = config::LoadDsConfig(spec.ds_config_path, 1).value();
  // One process, the whole global batch per micro-step.
  config::DsConfig one = ds;
  one.micro_batch_per_gpu = ds.train_batch_size;
  one.gradient_accumulation_steps = 1;
  auto data = train::OpenFinetuneData(spec, mc.vocab_size(), one, 1).value();
  (void)train::ApplyTrainerDefaults(ReadFileToString(spec.ds_config_path).value(),
                                    data->total_steps(), spec.warmup_steps.value_or(0), &ds);
  PlainModel model = BuildPlainModel(mc, spec.seed, ds.adamw, torch::kCPU);
  auto& units = model.units;
  const std::vector<torch::Tensor>& params = model.params;
  torch::optim::AdamW& opt = *model.optimizer;
  std::vector<double> losses;
  int64_t iteration = 0;  // the schedule's: skipped steps do not advance it
  const int64_t T = spec.seq_len;
  for (int64_t step = 0; step < data->total_steps(); ++step) {
    const data::PackedBatch b = data->train().GlobalBatch(step);
    if (b.label_count == 0) {
      losses.push_back(0.0);
      continue;
    }
    for (auto& group : opt.param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options())
          .lr(optim::LearningRate(ds.scheduler, iteration));
    }
    opt.zero_grad();
    std::vector<int64_t> inputs = b.inputs, labels = b.labels;
    torch::Tensor h = torch::from_blob(inputs.data(), {b.rows, T}, torch::kInt64);
    torch::Tensor y = torch::from_blob(labels.data(), {b.rows, T}, torch::kInt64);
    models::SequenceLayout layout;
    std::vector<int64_t> positions = b.positions;
    std::vector<int32_t> cu = b.cu_seqlens;
    layout.positions = torch::from_blob(positions.data(), {b.rows, T}, torch::kInt64);
    layout.cu_seqlens =
        torch::from_blob(cu.data(), {static_cast<int64_t>(cu.size())}, torch::kInt32);
    layout.max_seqlen = b.max_seqlen;
    for (auto& unit : units) h = unit->Forward(h, layout);
    torch::Tensor loss =
        torch::nn::functional::cross_entropy(
            h.reshape({-1, h.size(-1)}).to(torch::kFloat32), y.reshape({-1}),
            torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100).reduction(
                torch::kSum)) /
        static_cast<double>(b.label_count);
    loss.backward();
    if (ds.gradient_clipping > 0) torch::nn::utils::clip_grad_norm_(params, ds.gradient_clipping);
    opt.step();
    ++iteration;
    losses.push_back(loss.item<double>());
  }
  return losses;
}

}  // namespace zerod::testing
