// What a training Job and an evaluation share when they bring up a rank: its CPU
// threads, the ZeRO engine's settings from the DeepSpeed config, and the weights
// (the model directory's safetensors, else transformers' seeded init).
#pragma once

#include <torch/torch.h>

#include <string>

#include "absl/status/status.h"
#include "engine/comm/communicator.h"
#include "engine/config/ds_config.h"
#include "engine/data/token_dataset.h"
#include "engine/models/hf_config.h"
#include "engine/zero/zero_engine.h"

namespace zerod::train {

// A model's config.json and the token file it will read, checked against each other:
// the sequence length the model accepts, token ids within its vocabulary.
struct ModelAndData {
  models::ModelConfig model;
  std::unique_ptr<data::TokenDataset> dataset;
};
absl::StatusOr<ModelAndData> LoadModelAndData(const std::string& model_dir,
                                              const std::string& data_path,
                                              const std::string& data_dtype, int64_t seq_len);

// Ranks of one host share its cores: gives each an equal slice of intra-op threads
// unless the user set OMP_NUM_THREADS.
void ShareCpuThreads(const comm::Communicator& comm);

// The engine's settings from the DeepSpeed config. An NCCL communicator means the GPU
// of this rank's local index; anything else runs on the CPU.
zero::EngineOptions EngineOptionsFor(const config::DsConfig& ds,
                                     const comm::Communicator& comm);

// The model's units as a ZeRO engine over `comm`, on the device `options` names (made
// current for this thread). Every rank calls it; all return the same outcome. The
// weights are not set yet: LoadOrInitWeights (or a checkpoint) does that.
absl::StatusOr<std::unique_ptr<zero::ZeroEngine>> CreateEngine(const models::ModelConfig& model,
                                                               const zero::EngineOptions& options,
                                                               comm::Communicator& comm);

// Loads `model_dir`'s safetensors weights into the engine, or initialises them from
// `seed` (normal, std `initializer_range`) when `random_init` or the directory holds no
// weights at all; weights zerod cannot read are refused (models::CheckModelWeights).
// Returns where the weights came from, for the start banner ("loaded 291 tensors from
// DIR", "initialised from seed 1234: DIR holds no weights"). Every rank calls it; all
// return the same outcome.
absl::StatusOr<std::string> LoadOrInitWeights(zero::ZeroEngine& engine,
                                              const std::string& model_dir, uint64_t seed,
                                              double initializer_range, bool random_init,
                                              comm::Communicator& comm);

}  // namespace zerod::train
