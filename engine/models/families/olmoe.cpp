// OlmoeForCausalLM (transformers' models/olmoe): Llama's block with an RMSNorm over all
// heads' queries and over all keys (OLMo 2's q/k norms, weight applied after rounding) and
// a mixture of num_experts experts of intermediate_size on every layer (top
// num_experts_per_tok, renormalised when norm_topk_prob).
#include "engine/models/families/moe_common.h"

namespace zerod::models {
namespace {

absl::Status Read(FamilyReader& r, const Family& f, DecoderConfig& c) {
  RETURN_IF_ERROR(r.AttentionBias(c));
  c.qk_norm = QkNorm::kWhole;
  RETURN_IF_ERROR(r.Act("hidden_act", "silu", {{"silu", Activation::kSilu}}, c));
  RETURN_IF_ERROR(r.Rope(f.defaults, {}, c));
  RETURN_IF_ERROR(
      internal::ReadRouter(r, "num_experts", "num_local_experts",
                           {.num_experts = 64, .top_k = 8, .router_aux_loss_coef = 0.01}, c));
  c.moe.expert_intermediate_size = c.intermediate_size;
  ASSIGN_OR_RETURN(c.moe.norm_topk_prob, r.keys().Bool("norm_topk_prob", false));
  RETURN_IF_ERROR(r.Require("clip_qkv", nullptr, "zerod does not clip q, k and v"));
  return r.Dropout({"attention_dropout"}, c);
}

}  // namespace

const Family kOlmoeFamily = {
    .architecture = "OlmoeForCausalLM",
    .model_type = "olmoe",
    .defaults = {.vocab_size = 50304,
                 .hidden_size = 2048,
                 .intermediate_size = 2048,
                 .num_hidden_layers = 16,
                 .num_attention_heads = 16,
                 .max_position_embeddings = 4096,
                 .rms_norm_eps = 1e-5,
                 .pad_token_id = 1},
    .read = Read,
    .norms = PreNorms(),
    .harmless = {},
    .harmless_if = {},
};

}  // namespace zerod::models
