// How the rows of a batch divide into documents, for packed fine-tuning data (several
// samples in one row of seq_len tokens). Attention never crosses a document boundary and
// positions restart at 0 at each document start, so a packed row computes, document by
// document, what each document computes alone (Note [packed rows] in attention.h).
// An empty layout is the pre-training case: one document per row, positions 0..T-1.
#pragma once

#include <torch/torch.h>

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

}  // namespace zerod::models
