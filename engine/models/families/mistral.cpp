// MistralForCausalLM (transformers' models/mistral): Llama's block without biases; a
// sliding window (default 4096 tokens) on every layer unless sliding_window is null.
#include "engine/models/family.h"
#include "engine/util/status_macros.h"

namespace zerod::models {
namespace {

absl::Status Read(FamilyReader& r, const Family& f, DecoderConfig& c) {
  RETURN_IF_ERROR(r.Act("hidden_act", "silu", {{"silu", Activation::kSilu}}, c));
  RETURN_IF_ERROR(r.Rope(f.defaults, {}, c));
  ASSIGN_OR_RETURN(c.sliding_window, r.Window(4096));
  c.sliding_layers.assign(c.num_hidden_layers, c.sliding_window > 0);
  return r.Dropout({"attention_dropout"}, c);
}

}  // namespace

const Family kMistralFamily = {
    .architecture = "MistralForCausalLM",
    .model_type = "mistral",
    .defaults = {.intermediate_size = 14336,
                 .num_key_value_heads = 8,
                 .max_position_embeddings = 4096 * 32},
    .read = Read,
    .norms = PreNorms(),
    // transformers' Mistral reads neither (it warns about layer_types and uses the window
    // on every layer).
    .harmless = {"layer_types"},
    .harmless_if = {{"attention_bias", false}},
};

}  // namespace zerod::models
