// config.json fields of GPT2LMHeadModel. What zerod does not implement is refused by
// name: attention-score variants (scale_attn_by_inverse_layer_idx,
// reorder_and_upcast_attn), cross-attention and activations other than GELU. Dropout
// (GPT-2's stock configs carry 0.1) is accepted and not applied: the job says so.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/models/family.h"
#include "engine/models/hf_config_parsers.h"
#include "engine/util/status_macros.h"

namespace zerod::models::internal {
namespace {

using config::JsonReader;

absl::Status ParseShapes(JsonReader& r, Gpt2Config& c) {
  ASSIGN_OR_RETURN(c.vocab_size, r.Int("vocab_size", c.vocab_size, 1));
  ASSIGN_OR_RETURN(c.n_positions, r.Int("n_positions", c.n_positions, 1));
  ASSIGN_OR_RETURN(c.n_embd, r.Int("n_embd", c.n_embd, 1));
  ASSIGN_OR_RETURN(c.n_layer, r.Int("n_layer", c.n_layer, 1));
  ASSIGN_OR_RETURN(c.n_head, r.Int("n_head", c.n_head, 1));
  if (c.n_embd % c.n_head != 0) {
    return r.Error("n_embd", absl::StrCat(c.n_embd, " is not divisible by n_head ", c.n_head));
  }
  ASSIGN_OR_RETURN(c.n_inner, r.Int("n_inner", 4 * c.n_embd, 1));
  return absl::OkStatus();
}

// The GPT-2 options zerod does not implement, refused when switched on.
absl::Status RefuseUnimplemented(JsonReader& r) {
  for (const char* key :
       {"scale_attn_by_inverse_layer_idx", "reorder_and_upcast_attn", "add_cross_attention"}) {
    ASSIGN_OR_RETURN(bool on, r.Bool(key, false));
    if (on) return r.Error(key, "is true; zerod implements GPT-2 attention without it: set false");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Gpt2Config> ParseGpt2(const nlohmann::json& json, JsonReader& r) {
  Gpt2Config c;
  ASSIGN_OR_RETURN(std::string model_type, r.String("model_type", "gpt2"));
  if (model_type != "gpt2") {
    return r.Error("model_type",
                   absl::StrCat("is \"", model_type, "\"; GPT2LMHeadModel expects \"gpt2\""));
  }
  RETURN_IF_ERROR(ParseShapes(r, c));
  ASSIGN_OR_RETURN(c.layer_norm_epsilon, r.Number("layer_norm_epsilon", c.layer_norm_epsilon, 0.0));
  ASSIGN_OR_RETURN(c.initializer_range, r.Number("initializer_range", c.initializer_range, 0.0));
  ASSIGN_OR_RETURN(c.scale_attn_weights, r.Bool("scale_attn_weights", true));
  ASSIGN_OR_RETURN(c.tie_word_embeddings, r.Bool("tie_word_embeddings", true));
  ASSIGN_OR_RETURN(std::string act, r.String("activation_function", "gelu_new"));
  if (act == "gelu") {
    c.gelu_exact = true;
  } else if (act != "gelu_new" && act != "gelu_pytorch_tanh") {
    return r.Error("activation_function",
                   absl::StrCat("is \"", act,
                                "\"; zerod implements \"gelu_new\", \"gelu_pytorch_tanh\" and "
                                "\"gelu\""));
  }
  RETURN_IF_ERROR(RefuseUnimplemented(r));
  for (const char* key : {"resid_pdrop", "embd_pdrop", "attn_pdrop", "summary_first_dropout"}) {
    ASSIGN_OR_RETURN(double p, r.Number(key, 0.0, 0.0, 1.0));
    c.ignored_dropout = std::max(c.ignored_dropout, p);
  }
  // GPT2Config keys GPT2LMHeadModel does not read: n_ctx (an alias of n_positions that
  // transformers 5 ignores), the summary head of GPT2DoubleHeadsModel, use_cache, ...
  RETURN_IF_ERROR(RefuseUnreadKeys(
      json, r, "GPT2LMHeadModel",
      {"n_ctx", "summary_type", "summary_use_proj", "summary_activation", "summary_proj_to_labels"},
      {}));
  return c;
}

}  // namespace zerod::models::internal
