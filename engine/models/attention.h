// Causal self-attention for the decoder, and which kernel computes it:
//   full causal, no soft-capping      SDPA (is_causal; flash or memory-efficient on a GPU)
//   sliding window < sequence         on a GPU in 16-bit: flash attention with the window in
//                                     the kernel (at::_flash_attention_forward,
//                                     window_size_left); elsewhere SDPA with a (T, T) mask
//   soft-capped scores (Gemma 2)      BlockedAttention: scores in query blocks (chunking.h)
//                                     over only the keys a block can see, forward and
//                                     backward, so no full T x T score matrix of all heads
//                                     ever exists; windows skip the keys outside them
// All follow transformers' eager attention (scores in the model dtype, soft-capped there,
// softmax in float32): MaskedAttention is that computation, the reference in tests.
//
// Note [packed rows]: with a non-empty SequenceLayout (sequence_layout.h) a row holds
// several documents, and a key is visible to a query iff it lies in the same document,
// not after the query, and (with a window) fewer than `window` tokens before it. Inside a
// document token distance is position distance, so windows and soft-capping mean what
// they mean for the document alone; positions restart at each document (RoPE and GPT-2's
// learned positions read layout.positions), so every document computes what it computes
// as a batch of its own (the tests pin that against transformers, each document run
// alone). The kernels:
//   on a GPU in 16-bit (FlashAttentionApplies), no soft-capping: variable-length flash
//     attention over the flattened (B * T) tokens, cu_seqlens as its document bounds,
//     the window in the kernel; its backward is autograd's (FlashAttentionBackward0,
//     which keeps cu_seqlens);
//   soft-capped: BlockedAttention, each block's mask also comparing document ids;
//   otherwise (the CPU, float32): SDPA with a (B, 1, T, T) block-diagonal causal mask.
// Every query sees itself, so no softmax row is empty. An empty layout takes exactly
// the paths (and masks) of before, bit for bit.
#pragma once

#include <torch/torch.h>

#include "engine/models/sequence_layout.h"

namespace zerod::models {

struct AttentionOptions {
  double scale = 0.0;       // scores times this; 0: head_dim^-0.5
  int64_t window = 0;       // a query sees itself and window - 1 keys before it; 0: all
  double softcap = 0.0;     // scores = cap * tanh(scores / cap); 0: none
  int64_t query_block = 0;  // BlockedAttention's queries per block; 0: AttentionQueryBlock
};

// q (B, nh, T, hd), k and v (B, nkv, T, hd) with nkv dividing nh (grouped-query heads):
// (B, nh, T, hd), causal, through the kernel the table above names; within documents
// when `layout` is not empty (Note [packed rows]).
torch::Tensor CausalAttention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const AttentionOptions& options,
                              const SequenceLayout& layout = {});

// The kernels, callable directly (tests compare them). The same shapes as CausalAttention.
// transformers' eager attention: the full (T, T) scores of every head, masked.
torch::Tensor MaskedAttention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const AttentionOptions& options,
                              const SequenceLayout& layout = {});
// Query blocks, with a backward of its own that recomputes each block's scores.
torch::Tensor BlockedAttention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const AttentionOptions& options,
                               const SequenceLayout& layout = {});
// Flash attention with the window in the kernel: CUDA, float16 or bfloat16, head_dim a
// multiple of 8 up to 256 (FlashAttentionApplies). With a layout, the variable-length
// kernel over its documents (window 0: causal within each). No soft-capping.
bool FlashAttentionApplies(const torch::Tensor& q);
torch::Tensor FlashWindowAttention(const torch::Tensor& q, const torch::Tensor& k,
                                   const torch::Tensor& v, const AttentionOptions& options,
                                   const SequenceLayout& layout = {});

}  // namespace zerod::models
