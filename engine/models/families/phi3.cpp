// Phi3ForCausalLM (transformers' models/phi3; Phi-3 and Phi-4-mini): Llama's block with one
// fused qkv_proj and one fused gate_up_proj, no biases, RoPE on the first
// partial_rotary_factor of head_dim, "longrope" (its "su" and "yarn" spellings too) with
// the top-level original_max_position_embeddings, and one sliding window on every layer
// when sliding_window is set (null by default).
#include "engine/models/family.h"
#include "engine/util/status_macros.h"

namespace zerod::models {
namespace {

absl::Status Read(FamilyReader& r, const Family& f, DecoderConfig& c) {
  c.fused_qkv = c.fused_gate_up = true;
  RETURN_IF_ERROR(r.Act("hidden_act", "silu", {{"silu", Activation::kSilu}}, c));
  ASSIGN_OR_RETURN(int64_t original, r.keys().Int("original_max_position_embeddings", 4096, 1));
  RETURN_IF_ERROR(r.Rope(f.defaults,
                         {.partial_rotary = true,
                          .types = {RopeType::kDefault, RopeType::kLongrope},
                          .yarn_is_longrope = true,
                          .top_level_original_max = original},
                         c));
  ASSIGN_OR_RETURN(c.sliding_window, r.Window(0));
  c.sliding_layers.assign(c.num_hidden_layers, c.sliding_window > 0);
  return r.Dropout({"attention_dropout", "resid_pdrop", "embd_pdrop"}, c);
}

}  // namespace

const Family kPhi3Family = {
    .architecture = "Phi3ForCausalLM",
    .model_type = "phi3",
    .defaults = {.vocab_size = 32064,
                 .hidden_size = 3072,
                 .intermediate_size = 8192,
                 .max_position_embeddings = 4096,
                 .rms_norm_eps = 1e-5,
                 .pad_token_id = 32000},
    .read = Read,
    .norms = PreNorms(),
    .harmless = {},
    // Phi-4-mini's configs carry these; transformers' Phi3 has no biases and ignores them.
    .harmless_if = {{"attention_bias", false},
                    {"mlp_bias", false},
                    {"lm_head_bias", false},
                    {"full_attn_mod", 1},
                    {"interpolate_factor", 1}},
};

}  // namespace zerod::models
