// Olmo2ForCausalLM (transformers' models/olmo2): norms after attention and after the MLP
// (none before), an RMSNorm over the whole q and k projections before RoPE, the weight
// applied before rounding to the model dtype, and q, k rotated in float32.
#include "engine/models/family.h"
#include "engine/util/status_macros.h"

namespace zerod::models {
namespace {

absl::Status Read(FamilyReader& r, const Family& f, DecoderConfig& c) {
  RETURN_IF_ERROR(r.AttentionBias(c));
  c.qk_norm = QkNorm::kWhole;
  c.norm = NormKind::kRmsWeightFirst;
  c.rope_in_float32 = true;
  RETURN_IF_ERROR(r.Act("hidden_act", "silu", {{"silu", Activation::kSilu}}, c));
  RETURN_IF_ERROR(r.Rope(f.defaults, {}, c));
  return r.Dropout({"attention_dropout"}, c);
}

}  // namespace

const Family kOlmo2Family = {
    .architecture = "Olmo2ForCausalLM",
    .model_type = "olmo2",
    .defaults = {.vocab_size = 50304, .rms_norm_eps = 1e-5, .pad_token_id = 1},
    .read = Read,
    .norms = PostNorms(),
    .harmless = {},
    .harmless_if = {},
};

}  // namespace zerod::models
