// LlamaForCausalLM (transformers' models/llama): the base of the family: pre-norm blocks
// of RMSNorm, grouped-query attention with RoPE (every type), SwiGLU; biases optional.
#include "engine/models/family.h"
#include "engine/util/status_macros.h"

namespace zerod::models {
namespace {

absl::Status Read(FamilyReader& r, const Family& f, DecoderConfig& c) {
  RETURN_IF_ERROR(r.AttentionBias(c));
  ASSIGN_OR_RETURN(c.mlp_bias, r.keys().Bool("mlp_bias", false));
  RETURN_IF_ERROR(r.Require("pretraining_tp", 1, "must be 1"));
  RETURN_IF_ERROR(r.Act("hidden_act", "silu", {{"silu", Activation::kSilu}}, c));
  RETURN_IF_ERROR(r.Rope(f.defaults, {}, c));
  return r.Dropout({"attention_dropout"}, c);
}

}  // namespace

const Family kLlamaFamily = {
    .architecture = "LlamaForCausalLM",
    .model_type = "llama",
    .defaults = {},  // transformers' LlamaConfig: vocab 32000, hidden 4096, 32 layers, ...
    .read = Read,
    .norms = PreNorms(),
    .harmless = {},
    .harmless_if = {},
};

}  // namespace zerod::models
