// What Gemma 2 and Gemma 3 share (transformers' models/gemma2, models/gemma3): the four
// Gemma (1 + w) RMSNorms per block computed in float32, GeGLU with gelu_pytorch_tanh,
// embeddings times sqrt(hidden_size) in the model dtype, scores scaled by
// query_pre_attn_scalar^-0.5, the final logits soft-capped, sliding windows on the layers
// layer_types names, and no bidirectional attention (refused).
#pragma once

#include "engine/models/family.h"
#include "engine/util/status_macros.h"

namespace zerod::models::internal {

// Gemma2Config's and Gemma3TextConfig's defaults; they differ in the vocabulary, the
// context and the global RoPE base.
inline FamilyDefaults GemmaDefaults(int64_t vocab_size, int64_t max_position_embeddings,
                                    double rope_theta) {
  return {.vocab_size = vocab_size,
          .hidden_size = 2304,
          .intermediate_size = 9216,
          .num_hidden_layers = 26,
          .num_attention_heads = 8,
          .num_key_value_heads = 4,
          .head_dim = 256,
          .max_position_embeddings = max_position_embeddings,
          .rope_theta = rope_theta,
          .tie_word_embeddings = true,
          .pad_token_id = 0};
}

inline absl::Status ReadGemmaBlock(FamilyReader& r, double final_softcap, DecoderConfig& c) {
  c.norm = NormKind::kGemma;
  c.scale_embeddings = true;
  RETURN_IF_ERROR(r.AttentionBias(c));
  RETURN_IF_ERROR(r.Act("hidden_activation", "gelu_pytorch_tanh",
                        {{"gelu_pytorch_tanh", Activation::kGeluTanh}}, c));
  ASSIGN_OR_RETURN(c.query_pre_attn_scalar, r.keys().Number("query_pre_attn_scalar", 256, 1e-9));
  ASSIGN_OR_RETURN(c.final_softcap, r.NumberOrOff("final_logit_softcapping", final_softcap));
  ASSIGN_OR_RETURN(c.sliding_window, r.Window(4096));
  RETURN_IF_ERROR(
      r.Require("use_bidirectional_attention", false, "zerod trains causal language models only"));
  return r.Dropout({"attention_dropout"}, c);
}

}  // namespace zerod::models::internal
