// Qwen2MoeForCausalLM (transformers' models/qwen2_moe): Qwen2's attention (q/k/v biases by
// qkv_bias; windows on the layer_types' sliding layers) and, on the sparse layers
// (decoder_sparse_step, mlp_only_layers), num_experts experts of moe_intermediate_size plus
// a shared expert of shared_expert_intermediate_size scaled by sigmoid(shared_expert_gate).
#include "engine/models/families/moe_common.h"

namespace zerod::models {
namespace {

absl::Status Read(FamilyReader& r, const Family& f, DecoderConfig& c) {
  ASSIGN_OR_RETURN(c.qkv_bias, r.keys().Bool("qkv_bias", true));
  RETURN_IF_ERROR(r.Act("hidden_act", "silu", {{"silu", Activation::kSilu}}, c));
  RETURN_IF_ERROR(r.Rope(f.defaults, {}, c));
  // Qwen2MoeConfig: without use_sliding_window the window is 0 (none); layer_types
  // default to every other layer below max_window_layers.
  ASSIGN_OR_RETURN(bool use_window, r.keys().Bool("use_sliding_window", false));
  if (r.Present("sliding_window") && r.json()["sliding_window"] == 0) {
    r.keys().Ignore({"sliding_window"});  // what Qwen2MoeConfig writes without a window
    c.sliding_window = 0;
  } else {
    ASSIGN_OR_RETURN(c.sliding_window, r.Window(4096));
  }
  if (!use_window) c.sliding_window = 0;
  ASSIGN_OR_RETURN(int64_t max_window_layers, r.keys().Int("max_window_layers", 28, 0));
  RETURN_IF_ERROR(r.LayerTypes(
      c, [&](int64_t i) { return use_window && (i + 1) % 2 == 1 && i < max_window_layers; }));
  if (c.sliding_window == 0) c.sliding_layers.assign(c.num_hidden_layers, false);
  RETURN_IF_ERROR(
      internal::ReadRouter(r, "num_experts", "num_local_experts",
                           {.num_experts = 60, .top_k = 4, .router_aux_loss_coef = 0.001}, c));
  RETURN_IF_ERROR(internal::ReadSparseLayers(r, c));
  ASSIGN_OR_RETURN(c.moe.expert_intermediate_size, r.keys().Int("moe_intermediate_size", 1408, 1));
  ASSIGN_OR_RETURN(c.moe.shared_expert_intermediate_size,
                   r.keys().Int("shared_expert_intermediate_size", 5632, 1));
  ASSIGN_OR_RETURN(c.moe.norm_topk_prob, r.keys().Bool("norm_topk_prob", false));
  return r.Dropout({"attention_dropout"}, c);
}

}  // namespace

const Family kQwen2MoeFamily = {
    .architecture = "Qwen2MoeForCausalLM",
    .model_type = "qwen2_moe",
    .defaults = {.vocab_size = 151936,
                 .hidden_size = 2048,
                 .intermediate_size = 5632,
                 .num_hidden_layers = 24,
                 .num_attention_heads = 16,
                 .num_key_value_heads = 16,
                 .max_position_embeddings = 32768},
    .read = Read,
    .norms = PreNorms(),
    .harmless = {},
    .harmless_if = {},
};

}  // namespace zerod::models
