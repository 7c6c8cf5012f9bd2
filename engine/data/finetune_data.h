// A fine-tuning job's data: the training samples and the evaluation set (a file of its own,
// or a seeded hold-out of the training file), each packed into rows (packer.h), with the
// job's length in steps and the summary it prints at its start, as Hugging Face Trainer's
// "***** Running training *****" block. Not the model's side (models/sequence_layout.h) nor
// the loss (train/job.cpp). Torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "engine/data/packer.h"
#include "engine/data/sample_file.h"

namespace zerod::data {

struct FinetuneConfig {
  PackerConfig packer;               // seq_len, packing, long samples, batch sizes, seed
  std::optional<double> eval_split;  // hold this share of the training samples out
  std::optional<int64_t> epochs;     // unset: `steps` alone says how long
  int64_t steps = 0;                 // JobSpec::steps
};

class FinetuneData {
 public:
  // `train` holds the samples; `eval_file` an evaluation set of its own (nullptr: none, or
  // config.eval_split's hold-out of `train`). Errors name what is wrong (a hold-out of too
  // few samples, no sample left to train on, the batch arithmetic).
  static absl::StatusOr<std::unique_ptr<FinetuneData>> Create(std::unique_ptr<SampleSet> train,
                                                              std::unique_ptr<SampleSet> eval_file,
                                                              const FinetuneConfig& config);

  const PackedRows& train() const { return *train_rows_; }
  // nullptr without an evaluation set. Its rows in order (no shuffle); one pass over it is
  // eval().steps_per_epoch() batches of train_batch_size rows.
  const PackedRows* eval() const { return eval_rows_ ? &*eval_rows_ : nullptr; }
  int64_t total_steps() const { return total_steps_; }
  // Epochs the steps make (rounded up when `steps` ends mid-epoch).
  int64_t epochs() const;

  // The start summary, one "  Key = value" line each: samples, rows, trained tokens,
  // epochs, batch sizes, steps per epoch, total steps, truncated, dropped.
  std::string Summary() const;

 private:
  FinetuneData() = default;
  std::unique_ptr<SampleSet> train_set_;
  std::unique_ptr<SampleSet> eval_set_;  // eval_file, when given
  std::optional<PackedRows> train_rows_;
  std::optional<PackedRows> eval_rows_;
  FinetuneConfig config_;
  int64_t total_steps_ = 0;
};

}  // namespace zerod::data
