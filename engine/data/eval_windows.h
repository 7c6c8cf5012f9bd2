// Which token windows each rank scores in `zerod --eval`: consecutive non-overlapping
// windows of seq_len + 1 tokens from the start of the file, window i at token
// i * (seq_len + 1), grouped into batches of `batch_windows` windows. Within batch b
// rank r takes the contiguous slice [b * G + r * G / W, b * G + (r + 1) * G / W) and runs
// it in forwards of `micro_batch` windows. The last batch of a whole-file evaluation may
// be partly past the file: those rows are padding (window -1) that every rank still runs,
// so all ranks issue the same collectives. Torch-free.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/data/token_dataset.h"

namespace zerod::data {

struct EvalWindowsConfig {
  int64_t seq_len = 0;  // tokens per sequence: the job's (JobSpec::seq_len holds the default)
  int64_t batch_windows = 1;  // G: windows per batch, over all ranks
  int64_t micro_batch = 1;    // windows per rank per forward
  int world_size = 1;         // W
  int64_t batches = 0;        // 0: every whole window of the file
};

class EvalWindows {
 public:
  // InvalidArgument when the file is shorter than one window, when G is not a multiple
  // of micro_batch * world_size, or when `batches` asks for more windows than the file
  // has (the message prints the arithmetic).
  static absl::StatusOr<EvalWindows> Create(const TokenDataset* dataset,
                                            const EvalWindowsConfig& config);

  int64_t num_windows() const { return num_windows_; }  // windows scored
  int64_t num_batches() const { return num_batches_; }
  // Forwards per batch on each rank: G / (micro_batch * W).
  int64_t micro_steps() const;

  // Window indices of `rank`'s forward `micro` of batch `batch`, micro_batch of them;
  // -1 marks padding past the last scored window.
  std::vector<int64_t> MicroBatchWindows(int64_t batch, int64_t micro, int rank) const;

  // Tokens of those windows, row-major (micro_batch, seq_len + 1); padding rows hold
  // window 0.
  std::vector<int64_t> Tokens(const std::vector<int64_t>& windows) const;

  const EvalWindowsConfig& config() const { return config_; }

 private:
  EvalWindows(const TokenDataset* dataset, const EvalWindowsConfig& config)
      : dataset_(dataset), config_(config) {}

  const TokenDataset* dataset_;
  EvalWindowsConfig config_;
  int64_t num_windows_ = 0;
  int64_t num_batches_ = 0;
};

}  // namespace zerod::data
