// The torch side of fine-tuning data: packed rows (data/packer.h) as the tensors and the
// sequence layout the model reads, the masked per-token losses, and the evaluation of a
// packed set across the ranks. The loss arithmetic itself (sum over the labels / the step's
// global label count, as transformers' num_items_in_batch) is the job's (job.cpp).
#pragma once

#include <torch/torch.h>

#include "absl/status/statusor.h"
#include "engine/comm/communicator.h"
#include "engine/data/packer.h"
#include "engine/models/sequence_layout.h"
#include "engine/zero/zero_engine.h"

namespace zerod::train {

struct BatchTensors {
  torch::Tensor ids;     // (B, T) int64, on the host (the engine moves it)
  torch::Tensor labels;  // (B, T) int64 on the model's device; -100 where no label
  models::SequenceLayout layout;
};
BatchTensors ToTensors(const data::PackedBatch& batch, int64_t seq_len, torch::Device device);

// Per-token next-token cross-entropy (B, T) float32, 0 where the label is -100, each
// document of the rows attending only to itself (the layout).
torch::Tensor MaskedLosses(zero::ZeroEngine& engine, const BatchTensors& batch);

// One pass over `rows` (an evaluation set: in order, batches of train_batch_size rows,
// micro-batches of micro_batch rows per rank): each rank scores its slots, forward only,
// and the sums are all-reduced once. Every rank calls it; all get the same figures.
struct EvalFigures {
  double loss = 0.0;        // sum of the per-label losses / tokens
  double perplexity = 0.0;  // exp(loss)
  int64_t tokens = 0;       // labels scored
};
absl::StatusOr<EvalFigures> EvaluatePacked(zero::ZeroEngine& engine, const data::PackedRows& rows,
                                           comm::Communicator& comm);

}  // namespace zerod::train
