// Gemma2ForCausalLM (transformers' models/gemma2): the Gemma block (gemma_common.h) with
// attention scores soft-capped at attn_logit_softcapping (50) and final logits at
// final_logit_softcapping (30), sliding windows on every other layer (0, 2, 4, ...) unless
// layer_types says otherwise.
#include "engine/models/families/gemma_common.h"

namespace zerod::models {
namespace {

absl::Status Read(FamilyReader& r, const Family& f, DecoderConfig& c) {
  RETURN_IF_ERROR(internal::ReadGemmaBlock(r, /*final_softcap=*/30.0, c));
  ASSIGN_OR_RETURN(c.attn_softcap, r.NumberOrOff("attn_logit_softcapping", 50.0));
  RETURN_IF_ERROR(r.LayerTypes(c, [](int64_t i) { return (i + 1) % 2 != 0; }));
  return r.Rope(f.defaults, {}, c);
}

}  // namespace

const Family kGemma2Family = {
    .architecture = "Gemma2ForCausalLM",
    .model_type = "gemma2",
    .defaults = internal::GemmaDefaults(256000, 8192, 10000.0),
    .read = Read,
    .norms = SandwichNorms(),
    // transformers' Gemma 2 reads hidden_activation, not hidden_act; the Hub's configs
    // carry both (and sliding_window_size beside sliding_window).
    .harmless = {"hidden_act", "sliding_window_size"},
    .harmless_if = {},
};

}  // namespace zerod::models
