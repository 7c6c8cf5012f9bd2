// The language-model loss: next-token cross-entropy per token, in float32, as transformers'
// ForCausalLMLoss computes it (logits.float(), then cross_entropy), and its chunked form
// for the head, which never holds the logits of the whole batch: the final projection and
// the cross-entropy run over vocabulary columns a chunk at a time (chunking.h), forward and
// backward (recomputing each chunk's logits), with the same loss and gradients up to
// floating-point reordering. With a 262k vocabulary at 4 x 2048 tokens, the float32
// logits alone would be 8.6 GB.
//
// Masked labels: a target of kIgnoreIndex marks a position that is no label (a prompt
// token, padding, a document's last token in a packed row): its per-token loss is 0 and
// sends no gradient. Per-token losses stay per token; the caller divides their sum by
// the count of labels (over the global batch, for fine-tuning), as transformers does.
#pragma once

#include <torch/torch.h>

namespace zerod::models {

// The target of a position that is no label: Hugging Face's (and PyTorch's) ignore_index.
inline constexpr int64_t kIgnoreIndex = -100;

// Per-token cross-entropy of `logits` (..., V) against `targets` (...) int64: (...) float32,
// 0 where the target is kIgnoreIndex.
torch::Tensor TokenCrossEntropy(const torch::Tensor& logits, const torch::Tensor& targets);

// Next-token cross-entropy, mean over the positions with labels: logits (B, T, V) against
// targets (B, T) int64 (kIgnoreIndex: none). Computed in float32 whatever the logits' dtype.
torch::Tensor CausalLmLoss(const torch::Tensor& logits, const torch::Tensor& targets);

// Per-token cross-entropy of logits = softcap(h W^T) without materialising them:
// h (..., C), weight (V, C) (the LM head's parameter itself: autograd saves it, not a copy,
// as Note [storage swap] needs), targets (...) int64 in [0, V) or kIgnoreIndex
// (loss 0, no gradient). softcap > 0 applies
// cap * tanh(logits / cap) in the model dtype (Gemma's final_logit_softcapping).
// `columns` per chunk; 0: LogitChunkColumns(N, V) for N tokens. Returns (...) float32
// (targets' shape) with autograd history to h and weight.
torch::Tensor LinearCrossEntropy(const torch::Tensor& h, const torch::Tensor& weight,
                                 const torch::Tensor& targets, double softcap = 0.0,
                                 int64_t columns = 0);

// cap * tanh(x / cap) in x's dtype, as transformers soft-caps; x itself when cap is 0.
torch::Tensor SoftCap(const torch::Tensor& x, double cap);

}  // namespace zerod::models
