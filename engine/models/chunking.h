// How the large activations are cut so that none exists whole: the LM head's logits (in
// vocabulary columns, lm_loss.h) and soft-capped attention scores (in query blocks,
// attention.h). Torch-free: the plan (engine/plan/) counts the same pieces.
#pragma once

#include <algorithm>
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

// Queries per block of soft-capped attention over `keys` keys for `rows` = batch x heads:
// at least 16, at most all of them.
inline int64_t AttentionQueryBlock(int64_t rows, int64_t queries, int64_t keys) {
  const int64_t fit = kPieceElements / std::max<int64_t>(rows * keys, 1);
  return std::min(queries, std::max<int64_t>(fit, 16));
}

}  // namespace zerod::models
