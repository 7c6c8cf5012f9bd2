// Which token windows each rank trains on. Every optimizer step draws one global batch
// of train_batch_size windows (seq_len + 1 tokens each: inputs plus shifted targets)
// from a generator seeded by (seed, step) alone, so the global batch is the same at any
// world size; ranks then take disjoint slices of it per micro-step. This is what lets
// world size 1, 2 and 4 train on identical data (DESIGN.md's ZeRO-3 invariant).
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/data/token_dataset.h"

namespace zerod::data {

struct SamplerConfig {
  int64_t seq_len = 0;  // tokens per sequence: the job's (JobSpec::seq_len holds the default)
  int64_t global_batch = 1;  // train_batch_size, sequences
  int64_t micro_batch = 1;   // per rank per micro-step
  int64_t grad_accum = 1;
  int world_size = 1;
  uint64_t seed = 0;  // the job's (JobSpec::seed)
};

class DistributedSampler {
 public:
  // InvalidArgument when the dataset is shorter than one window, or the batch sizes do
  // not satisfy global = micro * grad_accum * world.
  static absl::StatusOr<DistributedSampler> Create(const TokenDataset* dataset,
                                                   const SamplerConfig& config);

  // Start token of window `index` (0 <= index < global_batch) of optimizer step `step`.
  int64_t WindowStart(int64_t step, int64_t index) const;

  // Tokens of `rank`'s micro-batch `micro` of step `step`, row-major
  // (micro_batch, seq_len + 1).
  std::vector<int64_t> MicroBatch(int64_t step, int64_t micro, int rank) const;

  // Every window of the step's global batch, (global_batch, seq_len + 1): what a
  // single-process trainer would see.
  std::vector<int64_t> GlobalBatch(int64_t step) const;

  const SamplerConfig& config() const { return config_; }

 private:
  DistributedSampler(const TokenDataset* dataset, const SamplerConfig& config)
      : dataset_(dataset), config_(config) {}
  void AppendWindow(int64_t step, int64_t index, std::vector<int64_t>& out) const;

  const TokenDataset* dataset_;
  SamplerConfig config_;
};

}  // namespace zerod::data
