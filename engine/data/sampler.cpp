#include "engine/data/sampler.h"

#include "absl/strings/str_cat.h"
#include "engine/data/split_mix.h"

namespace zerod::data {

absl::StatusOr<DistributedSampler> DistributedSampler::Create(const TokenDataset* dataset,
                                                              const SamplerConfig& c) {
  if (c.seq_len < 1)
    return absl::InvalidArgumentError(absl::StrCat("--seq-len ", c.seq_len, " < 1"));
  if (dataset->size() < c.seq_len + 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("data file ", dataset->path(), " has ", dataset->size(),
                     " tokens, fewer than one window of --seq-len ", c.seq_len,
                     " + 1; lower --seq-len or use a larger file"));
  }
  if (c.global_batch != c.micro_batch * c.grad_accum * c.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("train_batch_size ", c.global_batch, " != micro batch ", c.micro_batch,
                     " * grad accumulation ", c.grad_accum, " * world size ", c.world_size));
  }
  return DistributedSampler(dataset, c);
}

int64_t DistributedSampler::WindowStart(int64_t step, int64_t index) const {
  const uint64_t starts = static_cast<uint64_t>(dataset_->size() - config_.seq_len);
  const uint64_t h = SplitMix64(SplitMix64(SplitMix64(config_.seed) ^ static_cast<uint64_t>(step)) ^
                                static_cast<uint64_t>(index));
  return static_cast<int64_t>(h % starts);
}

void DistributedSampler::AppendWindow(int64_t step, int64_t index,
                                      std::vector<int64_t>& out) const {
  const int64_t start = WindowStart(step, index);
  for (int64_t t = 0; t <= config_.seq_len; ++t) out.push_back((*dataset_)[start + t]);
}

std::vector<int64_t> DistributedSampler::MicroBatch(int64_t step, int64_t micro, int rank) const {
  std::vector<int64_t> out;
  out.reserve(config_.micro_batch * (config_.seq_len + 1));
  // Micro-step m of rank r holds windows [(m * world + r) * micro_batch, ... + micro_batch).
  const int64_t first = (micro * config_.world_size + rank) * config_.micro_batch;
  for (int64_t i = 0; i < config_.micro_batch; ++i) AppendWindow(step, first + i, out);
  return out;
}

std::vector<int64_t> DistributedSampler::GlobalBatch(int64_t step) const {
  std::vector<int64_t> out;
  out.reserve(config_.global_batch * (config_.seq_len + 1));
  for (int64_t i = 0; i < config_.global_batch; ++i) AppendWindow(step, i, out);
  return out;
}

}  // namespace zerod::data
