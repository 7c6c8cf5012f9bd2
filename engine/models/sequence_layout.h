// How the rows of a batch divide into documents, for packed fine-tuning data (several
// samples in one row of seq_len tokens). Attention never crosses a document boundary and
// positions restart at 0 at each document start, so a packed row computes, document by
// document, what each document computes alone (Note [packed rows] in attention.h).
// An empty layout is the pre-training case: one document per row, positions 0..T-1.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace zerod::models {

struct SequenceLayout {
  // (B, T) int64 on the model's device: each input token's position inside its document
  // (RoPE reads it). Undefined: 0..T-1 in every row.
  torch::Tensor positions;
  // (N + 1,) int32 on the model's device: cumulative lengths of the N documents of the
  // flattened (B * T) batch, in order, starting at 0 and ending at B * T, as flash
  // attention's cu_seqlens. Every row start is a document start; padding at a row's end
  // is a document of its own (its labels are masked).
  torch::Tensor cu_seqlens;
  int64_t max_seqlen = 0;  // the longest document, tokens

  bool empty() const { return !cu_seqlens.defined(); }
};

// The layout of rows whose documents have the given lengths: documents[b] lists row b's
// documents in order, summing to T (padding at a row's end counted as a document of its
// own). Tensors on `device`. InvalidArgument naming the row when a row's lengths are not
// positive or do not sum to T.
absl::StatusOr<SequenceLayout> LayoutOfDocuments(const std::vector<std::vector<int64_t>>& documents,
                                                 int64_t T, torch::Device device);

// `layout` checked against a batch of (B, T) tokens, its tensors on `device` (no copy
// where they are already there): positions (B, T) int64; cu_seqlens 1-D int32 from 0 to
// B * T; max_seqlen > 0 with documents. InvalidArgument naming the field otherwise. An
// empty layout passes as it is (positions alone are allowed). Reads cu_seqlens' ends
// back from the device (one small copy per pass).
absl::StatusOr<SequenceLayout> LayoutFor(const SequenceLayout& layout, int64_t B, int64_t T,
                                         torch::Device device);

// (B, T) int64: each token's document, numbered over the whole batch (so tokens of two
// rows never share one), from cu_seqlens. The masks of attention.h compare them.
torch::Tensor DocumentIds(const SequenceLayout& layout, int64_t B, int64_t T);

}  // namespace zerod::models
