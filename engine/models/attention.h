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
#pragma once

#include <torch/torch.h>

namespace zerod::models {

struct AttentionOptions {
  double scale = 0.0;       // scores times this; 0: head_dim^-0.5
  int64_t window = 0;       // a query sees itself and window - 1 keys before it; 0: all
  double softcap = 0.0;     // scores = cap * tanh(scores / cap); 0: none
  int64_t query_block = 0;  // BlockedAttention's queries per block; 0: AttentionQueryBlock
};

// q (B, nh, T, hd), k and v (B, nkv, T, hd) with nkv dividing nh (grouped-query heads):
// (B, nh, T, hd), causal, through the kernel the table above names.
torch::Tensor CausalAttention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const AttentionOptions& options);

// The kernels, callable directly (tests compare them). The same shapes as CausalAttention.
// transformers' eager attention: the full (T, T) scores of every head, masked.
torch::Tensor MaskedAttention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const AttentionOptions& options);
// Query blocks, with a backward of its own that recomputes each block's scores.
torch::Tensor BlockedAttention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const AttentionOptions& options);
// Flash attention with the window in the kernel: CUDA, float16 or bfloat16, head_dim a
// multiple of 8 up to 256 (FlashAttentionApplies).
bool FlashAttentionApplies(const torch::Tensor& q);
torch::Tensor FlashWindowAttention(const torch::Tensor& q, const torch::Tensor& k,
                                   const torch::Tensor& v, const AttentionOptions& options);

}  // namespace zerod::models
