// The rows a fine-tuning job trains on: samples (sample_file.h) cut into rows of seq_len input
// tokens with a label per input position, and which rows each optimizer step and each rank
// take. Not the model's side of packing (models/sequence_layout.h: attention stays inside a
// document); this file only says where the documents are. Torch-free.
//
// A sample of n tokens is n - 1 predictions: input position t holds token t and its label is
// token t + 1 when that token is trained (sample_file.h's flag), else -100 (kIgnoreLabel, as
// transformers' ignore_index). So a sample takes n - 1 input positions and the longest that
// fits a row is seq_len + 1 tokens; its last token is only a target (transformers feeds it as
// an input too, and throws its prediction away: dropping it changes no loss, since attention
// is causal). Longer samples keep their first seq_len + 1 tokens (kTruncate, TRL's default)
// or are left out (kDrop); a sample under 2 tokens predicts nothing and is left out. Each is
// counted (PackStats).
//
// Packing (Note [best-fit decreasing]): samples are packed once, before training, into rows
// by best-fit decreasing, as TRL's "bfd" strategy packs; each epoch then visits the rows in
// its own seeded order. Without packing each sample is a row of its own. A row's unused end
// is padding: a document of its own, labels -100, token 0.
//
// Steps: an epoch is ceil(rows / G) steps of G = train_batch_size rows; the last step of an
// epoch is filled up with empty rows (all padding), as Hugging Face Trainer's last batch is
// short: the loss divides by the labels a step has, so the empty rows change nothing. The
// rows of step s are a function of (seed, s) alone, so world size 1, 2 and 4 train on the
// same global batch (the invariant of sampler.h), and a resumed job needs only its step.
// Ranks take disjoint slices per micro-step, as sampler.h's do.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/data/sample_file.h"

namespace zerod::data {

inline constexpr int64_t kIgnoreLabel = -100;

enum class LongSamples { kTruncate, kDrop };

struct PackerConfig {
  int64_t seq_len = 0;  // input tokens per row
  bool packing = true;  // false: one sample per row
  LongSamples long_samples = LongSamples::kTruncate;
  int64_t global_batch = 1;  // train_batch_size, rows per step
  int64_t micro_batch = 1;   // rows per rank per micro-step
  int64_t grad_accum = 1;
  int world_size = 1;
  uint64_t seed = 0;
  bool shuffle = true;  // false: every epoch in row order (an evaluation set)
};

// What packing did with the samples, for the summary a job prints at its start.
struct PackStats {
  int64_t samples = 0;    // given
  int64_t packed = 0;     // in some row
  int64_t truncated = 0;  // cut to seq_len + 1 tokens (kTruncate)
  int64_t dropped = 0;    // longer than seq_len + 1 tokens (kDrop)
  int64_t too_short = 0;  // under 2 tokens: nothing to predict
  int64_t rows = 0;
  int64_t input_tokens = 0;  // non-padding input positions over all rows
  int64_t labels = 0;        // positions with a label (the trained tokens that are predicted)
  int64_t seq_len = 0;       // the rows'
  double fill() const;       // input_tokens / (rows * seq_len)
};

// Rows of one micro-batch (or any set of rows), row-major (rows, seq_len). What the model's
// SequenceLayout is made from (positions, cu_seqlens, max_seqlen).
struct PackedBatch {
  int64_t rows = 0;
  std::vector<int64_t> inputs;     // token ids; 0 in padding
  std::vector<int64_t> labels;     // next token, or kIgnoreLabel
  std::vector<int64_t> positions;  // position inside the document; 0.. in padding too
  // Cumulative document lengths over the flattened (rows * seq_len) batch: 0, ..., rows *
  // seq_len; every row start is a document start; a row's padding is one document.
  std::vector<int32_t> cu_seqlens;
  int64_t max_seqlen = 0;
  int64_t label_count = 0;  // labels != kIgnoreLabel
};

class PackedRows {
 public:
  // Packs samples `indices` of `samples` (each at most once; the set must outlive the
  // rows). InvalidArgument when no sample is left to train on (naming why: all dropped,
  // all too short) or the batch sizes do not satisfy global = micro * grad_accum * world.
  static absl::StatusOr<PackedRows> Create(const SampleSet* samples,
                                           const std::vector<int64_t>& indices,
                                           const PackerConfig& config);

  const PackStats& stats() const { return stats_; }
  const PackerConfig& config() const { return config_; }
  int64_t num_rows() const { return static_cast<int64_t>(rows_.size()); }
  int64_t steps_per_epoch() const;

  // Row of slot `slot` (0 <= slot < global_batch) of step `step` (0-based): -1 for an empty
  // row past the epoch's last.
  int64_t RowAt(int64_t step, int64_t slot) const;
  // Labels of the whole global batch of `step`: what every rank divides its summed losses by
  // (transformers' num_items_in_batch), known without communication.
  int64_t StepLabelCount(int64_t step) const;
  // `rank`'s micro-batch `micro` of step `step`: slots [(micro * world + rank) * micro_batch,
  // + micro_batch).
  PackedBatch MicroBatch(int64_t step, int64_t micro, int rank) const;
  // Every row of the step's global batch: what one process would train on.
  PackedBatch GlobalBatch(int64_t step) const;
  // These rows (-1: an empty row), in order.
  PackedBatch Rows(const std::vector<int64_t>& rows) const;

 private:
  // One sample's part of a row: its first `length + 1` tokens, `length` input positions.
  struct Piece {
    int64_t sample = 0;
    int64_t length = 0;
  };
  struct Row {
    std::vector<Piece> pieces;
    int64_t labels = 0;
  };
  PackedRows(const SampleSet* samples, const PackerConfig& config)
      : samples_(samples), config_(config) {}
  // The order of the rows in `epoch` (Fisher-Yates from (seed, epoch)); cached for the last
  // epoch asked, so a step costs O(global batch) after the first of its epoch.
  const std::vector<int64_t>& EpochOrder(int64_t epoch) const;

  const SampleSet* samples_;
  PackerConfig config_;
  PackStats stats_;
  std::vector<Row> rows_;
  // Cache of EpochOrder; not thread-safe (a job steps on one thread).
  mutable int64_t order_epoch_ = -1;
  mutable std::vector<int64_t> order_;
};

// A seeded hold-out: ceil(fraction * n) of the samples 0..n-1 (at least 1, at most n - 1)
// for evaluation, the rest for training, each list ascending. InvalidArgument when fraction is
// not in (0, 1) or n < 2.
struct SampleSplit {
  std::vector<int64_t> train;
  std::vector<int64_t> eval;
};
absl::StatusOr<SampleSplit> SplitSamples(int64_t n, double fraction, uint64_t seed);

// 0, 1, ..., n - 1.
std::vector<int64_t> AllSamples(int64_t n);

}  // namespace zerod::data
