#include "engine/models/decoder_config.h"

#include <algorithm>

namespace zerod::models {

int64_t DecoderConfig::ExpertParameters(int64_t layer) const {
  if (!IsSparse(layer)) return 0;
  return moe.num_experts * 3 * hidden_size * moe.expert_intermediate_size;
}

int64_t DecoderConfig::ExpertUnits(int64_t layer) const {
  if (!IsSparse(layer) || !norms.after_mlp.empty()) return 1;
  const int64_t E = moe.num_experts;
  if (moe.experts_per_unit > 0) return (E + moe.experts_per_unit - 1) / moe.experts_per_unit;
  const int64_t groups = (ExpertParameters(layer) + kExpertUnitNumel - 1) / kExpertUnitNumel;
  return std::clamp<int64_t>(groups, 1, E);
}

std::pair<int64_t, int64_t> DecoderConfig::ExpertRange(int64_t layer, int64_t group) const {
  const int64_t E = moe.num_experts, G = ExpertUnits(layer);
  if (moe.experts_per_unit > 0) {
    return {group * moe.experts_per_unit, std::min(E, (group + 1) * moe.experts_per_unit)};
  }
  return {group * E / G, (group + 1) * E / G};  // as even as the division allows
}

int64_t DecoderConfig::LayerParameters(int64_t layer) const {
  const int64_t h = hidden_size, q = num_attention_heads * head_dim,
                kv = num_key_value_heads * head_dim, f = intermediate_size;
  int64_t attn = h * q + 2 * h * kv + q * h;
  if (qkv_bias) attn += q + 2 * kv;
  if (o_bias) attn += h;
  if (qk_norm == QkNorm::kPerHead) attn += 2 * head_dim;
  if (qk_norm == QkNorm::kWhole) attn += q + kv;
  int64_t mlp = 0;
  if (IsSparse(layer)) {
    mlp = moe.num_experts * h /*router*/ + ExpertParameters(layer);
    if (moe.shared_expert_intermediate_size > 0)
      mlp += 3 * h * moe.shared_expert_intermediate_size + h /*its gate*/;
  } else {
    mlp = 3 * h * f;
    if (mlp_bias) mlp += 2 * f + h;
  }
  int64_t block_norms = 0;
  for (const std::string* n :
       {&norms.before_attention, &norms.after_attention, &norms.before_mlp, &norms.after_mlp}) {
    if (!n->empty()) block_norms += h;
  }
  return attn + mlp + block_norms;
}

int64_t DecoderConfig::NumParameters() const {
  const int64_t h = hidden_size;
  int64_t layers = 0;
  for (int64_t i = 0; i < num_hidden_layers; ++i) layers += LayerParameters(i);
  return vocab_size * h /*embed*/ + layers + h /*norm*/ +
         (tie_word_embeddings ? 0 : vocab_size * h) /*head*/;
}

int64_t DecoderConfig::NumActiveParameters() const {
  int64_t n = NumParameters();
  for (int64_t i = 0; i < num_hidden_layers; ++i) {
    if (IsSparse(i)) n -= ExpertParameters(i) / moe.num_experts * (moe.num_experts - moe.top_k);
  }
  return n;
}

}  // namespace zerod::models
