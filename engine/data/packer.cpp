// Packing samples into rows, and the rows of each step (packer.h).
#include "engine/data/packer.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/data/split_mix.h"

namespace zerod::data {
namespace {

// Fisher-Yates over 0..n-1 from `key`: the same on every platform.
std::vector<int64_t> Permutation(int64_t n, uint64_t key) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), int64_t{0});
  uint64_t state = SplitMix64(key);
  for (int64_t i = n - 1; i > 0; --i) {
    state = SplitMix64(state);
    const int64_t j = static_cast<int64_t>(state % static_cast<uint64_t>(i + 1));
    std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(j)]);
  }
  return p;
}

// Distinct streams of the one seed: the epochs' orders and the hold-out split.
constexpr uint64_t kEpochStream = 0x65706f6368ull;  // "epoch"
constexpr uint64_t kSplitStream = 0x73706c6974ull;  // "split"

}  // namespace

double PackStats::fill() const {
  return rows == 0 || seq_len == 0
             ? 0.0
             : static_cast<double>(input_tokens) / static_cast<double>(rows * seq_len);
}

// Note [best-fit decreasing]
// The samples are packed once, before the first step, and every epoch visits the same rows
// in its own order. A fixed row count is what makes an epoch's steps, the job's total steps
// (the learning-rate schedule's length) and a resume's position functions of the step alone.
// Repacking each epoch over a fresh shuffle (first fit) would vary the row count per epoch.
// That a sample shares its row with the same neighbours every epoch changes no loss:
// attention never crosses a document (sequence_layout.h); only which samples meet in a
// batch depends on it, and the rows' order changes every epoch. Best-fit decreasing (the
// longest sample first, each into the fullest row it still fits, else a new row) is TRL's
// "bfd" strategy and leaves less padding than first fit over a shuffle; with the rows'
// free space in an ordered set it is O(n log n).
absl::StatusOr<PackedRows> PackedRows::Create(const SampleSet* samples,
                                              const std::vector<int64_t>& indices,
                                              const PackerConfig& c) {
  if (c.seq_len < 1)
    return absl::InvalidArgumentError(absl::StrCat("--seq-len ", c.seq_len, " < 1"));
  if (c.global_batch != c.micro_batch * c.grad_accum * c.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("train_batch_size ", c.global_batch, " != micro batch ", c.micro_batch,
                     " * grad accumulation ", c.grad_accum, " * world size ", c.world_size));
  }
  PackedRows out(samples, c);
  PackStats& st = out.stats_;
  st.samples = static_cast<int64_t>(indices.size());
  std::vector<Piece> pieces;
  pieces.reserve(indices.size());
  const int64_t longest = c.seq_len + 1;  // tokens: seq_len inputs and the last target
  for (int64_t i : indices) {
    const int64_t n = samples->SampleLength(i);
    if (n < 2) {
      ++st.too_short;
      continue;
    }
    if (n > longest && c.long_samples == LongSamples::kDrop) {
      ++st.dropped;
      continue;
    }
    if (n > longest) ++st.truncated;
    pieces.push_back({i, std::min(n, longest) - 1});
  }
  if (pieces.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no sample to train on: of ", st.samples, " samples, ", st.dropped,
                     " are longer than --seq-len ", c.seq_len,
                     " + 1 tokens and dropped (--long-samples drop)", " and ", st.too_short,
                     " have fewer than 2 tokens; raise --seq-len or use "
                     "--long-samples truncate"));
  }
  if (c.packing) {
    // Longest first; equal lengths in sample order, so the rows never depend on the sort.
    std::stable_sort(pieces.begin(), pieces.end(),
                     [](const Piece& a, const Piece& b) { return a.length > b.length; });
    std::set<std::pair<int64_t, int64_t>> free_space;  // (free positions, row)
    for (const Piece& p : pieces) {
      auto it = free_space.lower_bound({p.length, int64_t{-1}});
      int64_t row;
      int64_t free;
      if (it == free_space.end()) {
        row = static_cast<int64_t>(out.rows_.size());
        out.rows_.emplace_back();
        free = c.seq_len;
      } else {
        row = it->second;
        free = it->first;
        free_space.erase(it);
      }
      out.rows_[static_cast<size_t>(row)].pieces.push_back(p);
      if (free - p.length > 0) free_space.insert({free - p.length, row});
    }
  } else {
    for (const Piece& p : pieces) out.rows_.push_back({{p}, 0});
  }
  std::vector<int32_t> tokens;
  std::vector<uint8_t> trained;
  for (Row& row : out.rows_) {
    for (const Piece& p : row.pieces) {
      samples->Sample(p.sample, tokens, trained);
      for (int64_t t = 1; t <= p.length; ++t) row.labels += trained[static_cast<size_t>(t)] ? 1 : 0;
      st.input_tokens += p.length;
    }
    st.labels += row.labels;
  }
  st.packed = static_cast<int64_t>(pieces.size());
  st.rows = out.num_rows();
  st.seq_len = c.seq_len;
  return out;
}

int64_t PackedRows::steps_per_epoch() const {
  return (num_rows() + config_.global_batch - 1) / config_.global_batch;
}

const std::vector<int64_t>& PackedRows::EpochOrder(int64_t epoch) const {
  if (order_epoch_ != epoch) {
    if (config_.shuffle) {
      order_ = Permutation(num_rows(), SplitMix64(SplitMix64(config_.seed) ^ kEpochStream) ^
                                           static_cast<uint64_t>(epoch));
    } else if (order_.size() != rows_.size()) {
      order_.resize(rows_.size());
      std::iota(order_.begin(), order_.end(), int64_t{0});
    }
    order_epoch_ = epoch;
  }
  return order_;
}

int64_t PackedRows::RowAt(int64_t step, int64_t slot) const {
  const int64_t per_epoch = steps_per_epoch();
  const int64_t position = (step % per_epoch) * config_.global_batch + slot;
  if (position >= num_rows()) return -1;
  return EpochOrder(step / per_epoch)[static_cast<size_t>(position)];
}

int64_t PackedRows::StepLabelCount(int64_t step) const {
  int64_t n = 0;
  for (int64_t slot = 0; slot < config_.global_batch; ++slot) {
    const int64_t row = RowAt(step, slot);
    if (row >= 0) n += rows_[static_cast<size_t>(row)].labels;
  }
  return n;
}

PackedBatch PackedRows::Rows(const std::vector<int64_t>& rows) const {
  const int64_t T = config_.seq_len;
  PackedBatch b;
  b.rows = static_cast<int64_t>(rows.size());
  const size_t total = static_cast<size_t>(b.rows * T);
  b.inputs.assign(total, 0);
  b.labels.assign(total, kIgnoreLabel);
  b.positions.assign(total, 0);
  b.cu_seqlens.push_back(0);
  std::vector<int32_t> tokens;
  std::vector<uint8_t> trained;
  int64_t at = 0;  // flattened position
  auto close_document = [&](int64_t length) {
    at += length;
    b.cu_seqlens.push_back(static_cast<int32_t>(at));
    b.max_seqlen = std::max(b.max_seqlen, length);
  };
  for (int64_t r : rows) {
    const int64_t row_end = at + T;
    if (r >= 0) {
      for (const Piece& p : rows_[static_cast<size_t>(r)].pieces) {
        samples_->Sample(p.sample, tokens, trained);
        for (int64_t t = 0; t < p.length; ++t) {
          const size_t k = static_cast<size_t>(at + t);
          b.inputs[k] = tokens[static_cast<size_t>(t)];
          b.positions[k] = t;
          if (trained[static_cast<size_t>(t + 1)]) {
            b.labels[k] = tokens[static_cast<size_t>(t + 1)];
            ++b.label_count;
          }
        }
        close_document(p.length);
      }
    }
    if (at < row_end) {  // the row's padding: one document, positions from 0
      for (int64_t t = 0; t < row_end - at; ++t) b.positions[static_cast<size_t>(at + t)] = t;
      close_document(row_end - at);
    }
  }
  return b;
}

PackedBatch PackedRows::MicroBatch(int64_t step, int64_t micro, int rank) const {
  std::vector<int64_t> rows;
  const int64_t first = (micro * config_.world_size + rank) * config_.micro_batch;
  for (int64_t i = 0; i < config_.micro_batch; ++i) rows.push_back(RowAt(step, first + i));
  return Rows(rows);
}

PackedBatch PackedRows::GlobalBatch(int64_t step) const {
  std::vector<int64_t> rows;
  for (int64_t i = 0; i < config_.global_batch; ++i) rows.push_back(RowAt(step, i));
  return Rows(rows);
}

absl::StatusOr<SampleSplit> SplitSamples(int64_t n, double fraction, uint64_t seed) {
  if (!(fraction > 0.0 && fraction < 1.0)) {
    return absl::InvalidArgumentError(absl::StrCat("eval_split: ", fraction,
                                                   " is not in (0, 1): give the share of the "
                                                   "samples held out for evaluation, e.g. 0.02"));
  }
  if (n < 2) {
    return absl::InvalidArgumentError(absl::StrCat("eval_split: the data has ", n,
                                                   " sample(s); a hold-out needs at least 2: give "
                                                   "--eval-data FILE instead"));
  }
  const int64_t held = std::clamp<int64_t>(
      static_cast<int64_t>(std::ceil(fraction * static_cast<double>(n))), 1, n - 1);
  const std::vector<int64_t> p = Permutation(n, SplitMix64(SplitMix64(seed) ^ kSplitStream));
  SampleSplit s;
  s.eval.assign(p.begin(), p.begin() + held);
  s.train.assign(p.begin() + held, p.end());
  std::sort(s.eval.begin(), s.eval.end());
  std::sort(s.train.begin(), s.train.end());
  return s;
}

std::vector<int64_t> AllSamples(int64_t n) {
  std::vector<int64_t> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), int64_t{0});
  return all;
}

}  // namespace zerod::data
