// The start every plain LibTorch reference shares (plain_trainer, plain_finetune): a model's
// units with transformers' seeded initial values as ordinary parameters, and torch's own
// AdamW over them with the DeepSpeed config's hyperparameters.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <vector>

#include "engine/models/hf_config.h"
#include "engine/models/unit.h"
#include "engine/offload/cpu_adam.h"

namespace zerod::testing {

struct PlainModel {
  std::vector<std::unique_ptr<models::Unit>> units;
  std::vector<torch::Tensor> params;  // every unit's, in unit order: what the optimizer steps
  std::unique_ptr<torch::optim::AdamW> optimizer;
};

// float32 on `device`, initialised from `seed` as ZeroEngine's InitWeights does.
PlainModel BuildPlainModel(const models::ModelConfig& mc, uint64_t seed,
                           const offload::AdamWHyper& adamw,
                           const torch::Device& device = torch::kCPU);

}  // namespace zerod::testing
