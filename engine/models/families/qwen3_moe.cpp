// Qwen3MoeForCausalLM (transformers' models/qwen3_moe): Qwen3's attention (per-head q/k
// norms, attention_bias; a window on every layer when use_sliding_window) and, on the
// sparse layers (decoder_sparse_step, mlp_only_layers), num_experts experts of
// moe_intermediate_size, renormalised when norm_topk_prob; dense layers have the MLP of
// intermediate_size.
#include "engine/models/families/moe_common.h"

namespace zerod::models {
namespace {

absl::Status Read(FamilyReader& r, const Family& f, DecoderConfig& c) {
  RETURN_IF_ERROR(r.AttentionBias(c));
  c.qk_norm = QkNorm::kPerHead;
  RETURN_IF_ERROR(r.Act("hidden_act", "silu", {{"silu", Activation::kSilu}}, c));
  RETURN_IF_ERROR(r.Rope(f.defaults, {}, c));
  ASSIGN_OR_RETURN(bool use_window, r.keys().Bool("use_sliding_window", false));
  ASSIGN_OR_RETURN(c.sliding_window, r.Window(4096));
  if (!use_window) c.sliding_window = 0;
  c.sliding_layers.assign(c.num_hidden_layers, c.sliding_window > 0);
  RETURN_IF_ERROR(
      internal::ReadRouter(r, "num_experts", "num_local_experts",
                           {.num_experts = 128, .top_k = 8, .router_aux_loss_coef = 0.001}, c));
  RETURN_IF_ERROR(internal::ReadSparseLayers(r, c));
  ASSIGN_OR_RETURN(c.moe.expert_intermediate_size, r.keys().Int("moe_intermediate_size", 768, 1));
  ASSIGN_OR_RETURN(c.moe.norm_topk_prob, r.keys().Bool("norm_topk_prob", false));
  return r.Dropout({"attention_dropout"}, c);
}

}  // namespace

const Family kQwen3MoeFamily = {
    .architecture = "Qwen3MoeForCausalLM",
    .model_type = "qwen3_moe",
    .defaults = {.vocab_size = 151936,
                 .hidden_size = 2048,
                 .intermediate_size = 6144,
                 .num_hidden_layers = 24,
                 .num_attention_heads = 32,
                 .num_key_value_heads = 4,
                 .max_position_embeddings = 32768},
    .read = Read,
    .norms = PreNorms(),
    // Qwen3-30B-A3B's config.json carries max_window_layers, which Qwen3MoeConfig keeps
    // but no module reads (the window, when on, covers every layer).
    .harmless = {"max_window_layers", "layer_types"},
    .harmless_if = {},
};

}  // namespace zerod::models
