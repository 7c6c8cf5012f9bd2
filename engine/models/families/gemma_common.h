// What Gemma 2 and Gemma 3 share (transformers' models/gemma2, models/gemma3): the four
// Gemma (1 + w) RMSNorms per block computed in float32, GeGLU with gelu_pytorch_tanh,
// embeddings times sqrt(hidden_size) in the model dtype, scores scaled by
// query_pre_attn_scalar^-0.5, the final logits soft-capped, sliding windows on the layers
// layer_types names, and no bidirectional attention (refused).
#pragma once

#include "engine/models/family.h"
#include "engine/util/status_macros.h"

namespace zerod::models::internal {

inline absl::Status ReadGemmaBlock(FamilyReader& r, double final_softcap, DecoderConfig& c) {
  c.norm = NormKind::kGemma;
  c.scale_embeddings = true;
  ASSIGN_OR_RETURN(bool attention_bias, r.keys().Bool("attention_bias", false));
  c.qkv_bias = c.o_bias = attention_bias;
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
