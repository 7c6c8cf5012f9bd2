// The keys the four mixture-of-experts families share (transformers' Mixtral, Qwen2-MoE,
// Qwen3-MoE and OLMoE configs): the router's k and its load-balancing loss, and Qwen's
// choice of which layers are sparse. Each family's description reads the rest.
#pragma once

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/models/family.h"
#include "engine/util/status_macros.h"

namespace zerod::models::internal {

struct MoeDefaults {
  int64_t num_experts;
  int64_t top_k;
  double router_aux_loss_coef;
};

// `experts_key` ("num_local_experts", "num_experts"): the number of experts; also read
// under `alias` (the other name, which the config class's attribute_map maps onto it).
// num_experts_per_tok, router_aux_loss_coef, output_router_logits; every layer sparse.
inline absl::Status ReadRouter(FamilyReader& r, const char* experts_key, const char* alias,
                               const MoeDefaults& d, DecoderConfig& c) {
  config::JsonReader& k = r.keys();
  const char* key = r.Present(alias) && !r.Present(experts_key) ? alias : experts_key;
  if (r.Present(alias) && r.Present(experts_key)) {
    ASSIGN_OR_RETURN(int64_t other, k.Int(alias, 0));
    ASSIGN_OR_RETURN(int64_t n, k.Int(experts_key, 0));
    if (other != n) {
      return k.Error(alias, absl::StrCat("is ", other, " but ", experts_key, " is ", n,
                                         "; transformers reads them as one setting"));
    }
  }
  ASSIGN_OR_RETURN(c.moe.num_experts, k.Int(key, d.num_experts, 1));
  ASSIGN_OR_RETURN(c.moe.top_k, k.Int("num_experts_per_tok", d.top_k, 1, c.moe.num_experts));
  ASSIGN_OR_RETURN(c.moe.router_aux_loss_coef,
                   k.Number("router_aux_loss_coef", d.router_aux_loss_coef, 0.0));
  ASSIGN_OR_RETURN(c.moe.output_router_logits, k.Bool("output_router_logits", false));
  c.moe.sparse_layers.assign(c.num_hidden_layers, true);
  return absl::OkStatus();
}

// Qwen2-MoE and Qwen3-MoE: layer i is sparse unless it is in mlp_only_layers or
// (i + 1) % decoder_sparse_step != 0; a dense layer has the MLP of intermediate_size.
inline absl::Status ReadSparseLayers(FamilyReader& r, DecoderConfig& c) {
  config::JsonReader& k = r.keys();
  ASSIGN_OR_RETURN(int64_t step, k.Int("decoder_sparse_step", 1, 1));
  std::vector<int64_t> dense;
  if (const nlohmann::json* list = k.Value("mlp_only_layers"); list != nullptr) {
    bool ok = list->is_array();
    for (const auto& v : ok ? *list : nlohmann::json::array()) {
      ok = ok && v.is_number_integer();
      if (ok) dense.push_back(v.get<int64_t>());
    }
    if (!ok) return k.Error("mlp_only_layers", "must be a list of layer indices");
  }
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    c.moe.sparse_layers[i] =
        (i + 1) % step == 0 && std::find(dense.begin(), dense.end(), i) == dense.end();
  }
  return absl::OkStatus();
}

}  // namespace zerod::models::internal
