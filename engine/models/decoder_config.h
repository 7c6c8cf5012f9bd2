// The one decoder that every dense family zerod implements (Llama, Mistral, Qwen2, Qwen3,
// OLMo 2, Phi-3, Gemma 2 and 3) is an instance of: its shapes and the switches that say
// what one block computes. A family (family.h) is a description that reads its config.json
// keys into this struct and names its checkpoint tensors; decoder.h builds the units from
// it. Nothing here knows which family it came from. Torch-free.
//
// One block, every switch on (a switch that is off removes its step):
//   a = before_attention_norm(x)
//   q, k, v = split(qkv(a)) or q(a), k(a), v(a)          (+ biases)
//   q, k = whole_q_norm(q), whole_k_norm(k)               (OLMo 2: over all heads)
//   q, k = per_head_q_norm(q), per_head_k_norm(k)         (Qwen3, Gemma 3: over head_dim)
//   q, k = rope(q), rope(k)                               (the layer's RoPE, its rotary dims)
//   s = q k^T * scale; s = cap * tanh(s / cap)            (Gemma 2's soft-capping)
//   y = softmax(s masked: causal, and the layer's window) v;  o = o_proj(y)
//   x = x + after_attention_norm(o)
//   m = before_mlp_norm(x)
//   m = down(act(gate(m)) * up(m))                        (gate/up fused in Phi-3)
//       or, in a mixture-of-experts layer (MoeConfig):
//   m = sum over the token's top-k experts e of w_e * down_e(act(gate_e(m)) * up_e(m))
//       + sigmoid(shared_gate(m)) * shared_mlp(m)         (Qwen2-MoE's shared expert)
//   x = x + after_mlp_norm(m)
// and around the blocks: embeddings (times sqrt(hidden) in the model dtype for Gemma), the
// final norm, the LM head (tied or not) and the final logits' soft-capping.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace zerod::models {

// How RoPE's inverse frequencies are derived (rope_parameters / rope_scaling rope_type).
enum class RopeType { kDefault, kLinear, kLlama3, kDynamic, kYarn, kLongrope };

// One RoPE: what transformers' rope init functions (modeling_rope_utils.py) read.
struct RopeConfig {
  RopeType type = RopeType::kDefault;
  double theta = 10000.0;
  double partial_rotary_factor = 1.0;  // the rotated share of head_dim (Phi-3)
  double factor = 1.0;                 // linear, llama3, dynamic, yarn; longrope (0 = derived)
  double low_freq_factor = 1.0;        // llama3
  double high_freq_factor = 4.0;       // llama3
  int64_t original_max_position_embeddings = 8192;  // llama3, yarn, longrope
  double attention_factor = 0.0;  // yarn, longrope: cos/sin scale; 0 = derived from factor
  double beta_fast = 32.0, beta_slow = 1.0;       // yarn
  double mscale = 0.0, mscale_all_dim = 0.0;      // yarn; 0 = absent
  bool truncate = true;                           // yarn
  std::vector<double> short_factor, long_factor;  // longrope, one per rotated pair
};

// transformers' RMSNorm variants: all normalise in float32 and differ in where the weight
// enters and where the result is rounded back to the model dtype.
enum class NormKind {
  kRms,             // w * norm(x).to(dtype)            (Llama, Qwen, Mistral, Phi-3)
  kRmsWeightFirst,  // (w * norm(x)).to(dtype)          (OLMo 2)
  kGemma,           // (norm(x) * (1 + w)).to(dtype)    (Gemma 2 and 3; weights start at 0)
};

enum class QkNorm {
  kNone,
  kPerHead,  // one norm over head_dim, shared by the heads (Qwen3, Gemma 3)
  kWhole,    // one norm over all heads' projections (OLMo 2)
};

enum class Activation { kSilu, kGeluTanh };  // "silu"; "gelu_pytorch_tanh" / "gelu_new"

// The checkpoint names of a block's norms, relative to "model.layers.N."; empty: the block
// has no norm there. Which norms a family has and what it calls them is one fact.
// The defaults are Llama's.
struct BlockNorms {
  std::string before_attention = "input_layernorm.weight";
  std::string after_attention;  // OLMo 2, Gemma: "post_attention_layernorm.weight"
  std::string before_mlp = "post_attention_layernorm.weight";  // Gemma: pre_feedforward_...
  std::string after_mlp;  // OLMo 2, Gemma: "post_feedforward_layernorm.weight"
};

// A mixture-of-experts MLP (Mixtral, Qwen2-MoE, Qwen3-MoE, OLMoE), as transformers routes:
// p = softmax(router(m)) in float32 over the experts, the top_k largest (ties as torch.topk
// breaks them), renormalised to sum 1 when norm_topk_prob, every token to exactly top_k
// experts (no capacity, nothing dropped). moe.h computes it.
struct MoeConfig {
  int64_t num_experts = 0;  // 0: every layer is dense
  int64_t top_k = 0;        // num_experts_per_tok
  int64_t expert_intermediate_size =
      0;                        // moe_intermediate_size (Mixtral, OLMoE: intermediate_size)
  bool norm_topk_prob = false;  // Mixtral: always
  // The top-k weights stay float32 (Mixtral); otherwise rounded to the model dtype first.
  bool weights_in_float32 = false;
  // Qwen2-MoE's shared expert (an MLP of this width every token goes through, scaled by
  // sigmoid(shared_expert_gate(m))); 0: none.
  int64_t shared_expert_intermediate_size = 0;
  // Per layer: true when the layer's MLP is the mixture (decoder_sparse_step,
  // mlp_only_layers); a dense layer has the dense MLP of intermediate_size.
  std::vector<bool> sparse_layers;
  // The load-balancing loss (transformers' load_balancing_loss_func over every sparse
  // layer's router) is added to the training loss times router_aux_loss_coef when
  // output_router_logits is set, as the ForCausalLM classes add it.
  double router_aux_loss_coef = 0.0;
  bool output_router_logits = false;
  // Checkpoint names relative to "model.layers.N.": the block ("mlp"; Mixtral's Hub
  // checkpoints: "block_sparse_moe") and each expert's gate, up and down projections
  // ("gate_proj", "up_proj", "down_proj"; Mixtral: "w1", "w3", "w2").
  std::string block = "mlp";
  std::string gate_name = "gate_proj", up_name = "up_proj", down_name = "down_proj";
  // How a sparse layer's experts are split into units (ZeRO-3's grain, decoder.h): groups
  // of this many consecutive experts; 0: as few groups as keep each within
  // kExpertUnitNumel parameters (a zerod setting, not a config.json key).
  int64_t experts_per_unit = 0;
};

// The most parameters of one unit of experts when MoeConfig::experts_per_unit is 0: a
// quarter of DeepSpeed's default stage3_max_live_parameters (1e9), so that a unit being
// computed, the next one prefetched and the attention around them stay within it.
inline constexpr int64_t kExpertUnitNumel = 250'000'000;

struct DecoderConfig {
  std::string architecture = "LlamaForCausalLM";
  // Shapes.
  int64_t vocab_size = 32000;
  int64_t hidden_size = 4096;
  int64_t intermediate_size = 11008;
  int64_t num_hidden_layers = 32;
  int64_t num_attention_heads = 32;
  int64_t num_key_value_heads = 32;  // < num_attention_heads: grouped-query attention
  int64_t head_dim = 128;            // hidden_size / num_attention_heads unless given
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double initializer_range = 0.02;  // std of the normal init, as transformers does
  // Attention.
  bool qkv_bias = false;   // q/k/v projections carry biases (Qwen2; attention_bias)
  bool o_bias = false;     // o_proj carries a bias (attention_bias)
  bool fused_qkv = false;  // one qkv_proj (Phi-3): rows q, then k, then v
  QkNorm qk_norm = QkNorm::kNone;
  double query_pre_attn_scalar = 0.0;  // scores * this^-0.5 (Gemma); 0: head_dim^-0.5
  double attn_softcap = 0.0;           // attn_logit_softcapping; 0: none
  // Per layer: true when the layer attends within sliding_window (transformers'
  // layer_types "sliding_attention"). Empty: no layer does.
  std::vector<bool> sliding_layers;
  int64_t sliding_window = 0;  // tokens a query sees, itself included
  RopeConfig rope;             // full-attention layers (and all layers without local_rope)
  bool local_rope = false;     // sliding layers use rope_local (Gemma 3)
  RopeConfig rope_local;
  bool rope_in_float32 = false;  // q, k rotated in float32, then rounded (OLMo 2)
  // Norms and MLP.
  NormKind norm = NormKind::kRms;
  BlockNorms norms;
  Activation activation = Activation::kSilu;
  bool mlp_bias = false;
  bool fused_gate_up = false;  // one gate_up_proj (Phi-3): rows gate, then up
  // Embeddings and head.
  bool scale_embeddings = false;  // times sqrt(hidden_size), rounded to the model dtype
  // pad_token_id: the embedding row that gets no gradient and starts at zero, as
  // nn.Embedding's padding_idx does in transformers; -1: none.
  int64_t pad_token_id = -1;
  bool tie_word_embeddings = false;  // lm_head reads embed_tokens.weight
  double final_softcap = 0.0;        // final_logit_softcapping; 0: none
  double ignored_dropout = 0.0;      // dropout given; zerod trains without dropout
  MoeConfig moe;                     // num_experts 0: a dense model

  bool IsSliding(int64_t layer) const {
    return layer < static_cast<int64_t>(sliding_layers.size()) && sliding_layers[layer];
  }
  // The window of layer `layer` in tokens, 0 for full causal attention.
  int64_t WindowOf(int64_t layer) const { return IsSliding(layer) ? sliding_window : 0; }
  // The RoPE of layer `layer`.
  const RopeConfig& RopeOf(int64_t layer) const {
    return local_rope && IsSliding(layer) ? rope_local : rope;
  }
  // True when layer `layer`'s MLP is the mixture of experts.
  bool IsSparse(int64_t layer) const {
    return moe.num_experts > 0 && layer < static_cast<int64_t>(moe.sparse_layers.size()) &&
           moe.sparse_layers[layer];
  }
  // Parameters in the whole model (a tied weight counted once).
  int64_t NumParameters() const;
  // How many units layer `layer`'s experts are split into (1 for a dense layer, or when the
  // block has a norm after its MLP), and the experts [first, end) of group `group`.
  int64_t ExpertUnits(int64_t layer) const;
  std::pair<int64_t, int64_t> ExpertRange(int64_t layer, int64_t group) const;
  // Parameters one token goes through (a sparse layer's top_k experts of num_experts, its
  // router and shared expert; the rest whole): what FLOPs per token are counted on.
  int64_t NumActiveParameters() const;
  // Parameters of one layer's experts (0 for a dense layer), and of the rest of the layer.
  int64_t ExpertParameters(int64_t layer) const;
  int64_t LayerParameters(int64_t layer) const;
};

}  // namespace zerod::models
