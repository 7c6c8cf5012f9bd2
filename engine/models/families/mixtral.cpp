// MixtralForCausalLM (transformers' models/mixtral): Mistral's attention (a window on every
// layer when sliding_window is set) and a mixture of num_local_experts experts of
// intermediate_size on every layer, routed to the top num_experts_per_tok and always
// renormalised, the weights kept in float32. The Hub's checkpoints name the block
// block_sparse_moe and the experts' projections w1 (gate), w3 (up), w2 (down).
#include "engine/models/families/moe_common.h"

namespace zerod::models {
namespace {

absl::Status Read(FamilyReader& r, const Family& f, DecoderConfig& c) {
  RETURN_IF_ERROR(r.Act("hidden_act", "silu", {{"silu", Activation::kSilu}}, c));
  RETURN_IF_ERROR(r.Rope(f.defaults, {}, c));
  ASSIGN_OR_RETURN(c.sliding_window, r.Window(0));
  c.sliding_layers.assign(c.num_hidden_layers, c.sliding_window > 0);
  RETURN_IF_ERROR(
      internal::ReadRouter(r, "num_local_experts", "num_experts",
                           {.num_experts = 8, .top_k = 2, .router_aux_loss_coef = 0.001}, c));
  c.moe.expert_intermediate_size = c.intermediate_size;
  c.moe.norm_topk_prob = true;
  c.moe.weights_in_float32 = true;
  c.moe.block = "block_sparse_moe";
  c.moe.gate_name = "w1", c.moe.up_name = "w3", c.moe.down_name = "w2";
  // The jitter multiplies the router's input by uniform noise in training.
  RETURN_IF_ERROR(
      r.Require("router_jitter_noise", 0.0, "zerod routes without jitter noise: set it to 0"));
  return r.Dropout({"attention_dropout"}, c);
}

}  // namespace

const Family kMixtralFamily = {
    .architecture = "MixtralForCausalLM",
    .model_type = "mixtral",
    .defaults = {.intermediate_size = 14336,
                 .num_key_value_heads = 8,
                 .max_position_embeddings = 4096 * 32,
                 .rms_norm_eps = 1e-5,
                 .rope_theta = 1e6},
    .read = Read,
    .norms = PreNorms(),
    .harmless = {"layer_types"},
    .harmless_if = {{"attention_bias", false}},
};

}  // namespace zerod::models
