#include "engine/data/eval_windows.h"

#include "absl/strings/str_cat.h"

namespace zerod::data {

absl::StatusOr<EvalWindows> EvalWindows::Create(const TokenDataset* dataset,
                                                const EvalWindowsConfig& config) {
  const int64_t window = config.seq_len + 1;
  const int64_t in_file = dataset->size() / window;
  if (in_file < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data file ", dataset->path(), " holds ", dataset->size(),
        " tokens, fewer than one evaluation window of --seq-len ", config.seq_len, " + 1 = ",
        window, "; lower --seq-len or pass a longer file"));
  }
  const int64_t per_forward = config.micro_batch * config.world_size;
  if (config.batch_windows < 1 || config.batch_windows % per_forward != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "an evaluation batch of ", config.batch_windows,
        " windows is not a multiple of micro batch ", config.micro_batch, " * world size ",
        config.world_size, " = ", per_forward));
  }
  EvalWindows w(dataset, config);
  if (config.batches > 0) {
    const int64_t wanted = config.batches * config.batch_windows;
    if (wanted > in_file) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--batches ", config.batches, " * ", config.batch_windows, " windows per batch = ",
          wanted, " windows, but ", dataset->path(), " holds ", in_file, " windows of ", window,
          " tokens (", dataset->size(), " tokens); lower --batches or omit it to score the "
          "whole file"));
    }
    w.num_windows_ = wanted;
    w.num_batches_ = config.batches;
  } else {
    w.num_windows_ = in_file;
    w.num_batches_ = (in_file + config.batch_windows - 1) / config.batch_windows;
  }
  return w;
}

int64_t EvalWindows::micro_steps() const {
  return config_.batch_windows / (config_.micro_batch * config_.world_size);
}

std::vector<int64_t> EvalWindows::MicroBatchWindows(int64_t batch, int64_t micro,
                                                    int rank) const {
  const int64_t per_rank = config_.batch_windows / config_.world_size;
  const int64_t first =
      batch * config_.batch_windows + rank * per_rank + micro * config_.micro_batch;
  std::vector<int64_t> out(config_.micro_batch);
  for (int64_t j = 0; j < config_.micro_batch; ++j)
    out[j] = first + j < num_windows_ ? first + j : -1;
  return out;
}

std::vector<int64_t> EvalWindows::Tokens(const std::vector<int64_t>& windows) const {
  const int64_t window = config_.seq_len + 1;
  std::vector<int64_t> out;
  out.reserve(windows.size() * window);
  for (int64_t w : windows) {
    const int64_t start = (w < 0 ? 0 : w) * window;
    for (int64_t t = 0; t < window; ++t) out.push_back((*dataset_)[start + t]);
  }
  return out;
}

}  // namespace zerod::data
