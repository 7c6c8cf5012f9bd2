#include "engine/models/decoder_config.h"

namespace zerod::models {

int64_t DecoderConfig::NumParameters() const {
  const int64_t h = hidden_size, q = num_attention_heads * head_dim,
                kv = num_key_value_heads * head_dim, f = intermediate_size;
  int64_t attn = h * q + 2 * h * kv + q * h;
  if (qkv_bias) attn += q + 2 * kv;
  if (o_bias) attn += h;
  if (qk_norm == QkNorm::kPerHead) attn += 2 * head_dim;
  if (qk_norm == QkNorm::kWhole) attn += q + kv;
  int64_t mlp = 3 * h * f;
  if (mlp_bias) mlp += 2 * f + h;
  int64_t block_norms = 0;
  for (const std::string* n :
       {&norms.before_attention, &norms.after_attention, &norms.before_mlp, &norms.after_mlp}) {
    if (!n->empty()) block_norms += h;
  }
  const int64_t layer = attn + mlp + block_norms;
  return vocab_size * h /*embed*/ + num_hidden_layers * layer + h /*norm*/ +
         (tie_word_embeddings ? 0 : vocab_size * h) /*head*/;
}

}  // namespace zerod::models
