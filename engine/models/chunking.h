// How the large activations are cut so that none exists whole: the LM head's logits (in
// vocabulary columns, lm_loss.h) and soft-capped attention scores (in query blocks,
// attention.h). Torch-free: the plan (engine/plan/) counts the same pieces.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace zerod::models {

// Elements of one piece: 64 Mi (256 MiB in float32), large enough that each piece's
// matrix product runs at full speed, small beside a GPU.
constexpr int64_t kPieceElements = int64_t{1} << 26;

// Vocabulary columns of the logits computed at once for `tokens` tokens: the whole
// vocabulary when it fits in a piece, else at least 1024 columns.
inline int64_t LogitChunkColumns(int64_t tokens, int64_t vocab) {
  const int64_t fit = kPieceElements / std::max<int64_t>(tokens, 1);
  return std::min(vocab, std::max<int64_t>(fit, 1024));
}

// The keys a block of `block` queries sees: all before it, or under a window of `window`
// (0: none) the block's own and window - 1 before its first query.
inline int64_t AttentionBlockKeys(int64_t block, int64_t queries, int64_t window) {
  return window > 0 ? std::min(queries, block + window - 1) : queries;
}

// Queries per block of soft-capped attention for `rows` = batch x heads over a sequence
// of `queries` tokens: the most whose scores (rows x block x AttentionBlockKeys) fit in a
// piece, at least 16, at most all of them.
inline int64_t AttentionQueryBlock(int64_t rows, int64_t queries, int64_t window) {
  const double per_row = static_cast<double>(kPieceElements) / static_cast<double>(rows);
  double fit = per_row / static_cast<double>(queries);
  if (window > 0 && window < queries) {  // block * (block + window - 1) <= per_row
    const double w = static_cast<double>(window - 1);
    fit = std::max(fit, (-w + std::sqrt(w * w + 4 * per_row)) / 2);
  }
  return std::min(queries, std::max<int64_t>(static_cast<int64_t>(fit), 16));
}

}  // namespace zerod::models
