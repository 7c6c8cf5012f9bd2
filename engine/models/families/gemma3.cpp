// Gemma3ForCausalLM (transformers' models/gemma3, Gemma3TextConfig "gemma3_text"; read
// from text_config when config.json is a composite "gemma3" one): the Gemma block
// (gemma_common.h) with a Gemma RMSNorm over head_dim on each query and key head, sliding
// windows on 5 of every sliding_window_pattern (6) layers unless layer_types says
// otherwise, and a RoPE per layer type: global layers rope_theta (1e6, with rope_scaling),
// local (sliding) layers rope_local_base_freq (1e4); transformers 5 nests both under
// rope_parameters by layer type.
#include "engine/models/families/gemma_common.h"

namespace zerod::models {
namespace {

// One layer type's RoPE: `base` (rope_parameters.<type>) updated by `overrides` (legacy
// rope_scaling, which transformers merges into full_attention's).
absl::Status ReadRope(FamilyReader& r, const char* type, const nlohmann::json& overrides,
                      DecoderConfig& c, RopeConfig& rope) {
  const nlohmann::json* params = r.keys().Value("rope_parameters");
  if (params != nullptr && !params->is_object())
    return r.keys().Error("rope_parameters", "must be an object or null");
  nlohmann::json merged = nlohmann::json::object();
  if (params != nullptr && params->contains(type) && !(*params)[type].is_null())
    merged = (*params)[type];
  if (params != nullptr && !params->empty() && !params->contains("full_attention") &&
      !params->contains("sliding_attention")) {
    return r.keys().Error("rope_parameters",
                          "must hold one object per layer type (full_attention, "
                          "sliding_attention), as transformers 5 writes Gemma 3's");
  }
  if (!merged.is_object()) return r.keys().Error("rope_parameters", "must hold objects");
  if (overrides.is_object()) merged.update(overrides);
  config::JsonReader o = r.Nested(merged, "rope_parameters", type);
  return r.RopeObject(&o, {}, c, rope);
}

absl::Status Read(FamilyReader& r, const Family& f, DecoderConfig& c) {
  RETURN_IF_ERROR(internal::ReadGemmaBlock(r, /*final_softcap=*/0.0, c));
  c.qk_norm = QkNorm::kPerHead;
  ASSIGN_OR_RETURN(int64_t pattern, r.keys().Int("sliding_window_pattern", 6, 1));
  RETURN_IF_ERROR(r.LayerTypes(c, [&](int64_t i) { return (i + 1) % pattern != 0; }));
  c.local_rope = true;
  ASSIGN_OR_RETURN(c.rope.theta, r.keys().Number("rope_theta", f.defaults.rope_theta, 1e-9));
  ASSIGN_OR_RETURN(c.rope_local.theta, r.keys().Number("rope_local_base_freq", 10000.0, 1e-9));
  const nlohmann::json* scaling = r.keys().Value("rope_scaling");
  RETURN_IF_ERROR(ReadRope(r, "full_attention", scaling ? *scaling : nlohmann::json(), c, c.rope));
  return ReadRope(r, "sliding_attention", nlohmann::json(), c, c.rope_local);
}

}  // namespace

const Family kGemma3Family = {
    .architecture = "Gemma3ForCausalLM",
    .model_type = "gemma3_text",
    .defaults = internal::GemmaDefaults(262208, 131072, 1e6),
    .read = Read,
    .norms = SandwichNorms(),
    // transformers 5.23's Gemma 3 attention does not apply attn_logit_softcapping (it is
    // not passed to the attention function), so neither does zerod; its save_pretrained
    // writes the private _sliding_window_pattern, which it does not read back.
    .harmless = {"hidden_act", "attn_logit_softcapping", "_sliding_window_pattern"},
    .harmless_if = {},
};

}  // namespace zerod::models
