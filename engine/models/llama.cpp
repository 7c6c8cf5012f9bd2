#include "engine/models/llama.h"

#include "engine/models/rope.h"

namespace zerod::models {
namespace {

// x * rsqrt(mean(x^2) + eps) * weight, computed in float32 and cast back, as
// transformers' LlamaRMSNorm does.
torch::Tensor RmsNorm(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  torch::Tensor xf = x.to(torch::kFloat32);
  torch::Tensor normed = xf * torch::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  return weight * normed.to(x.scalar_type());
}

torch::Tensor Linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  return torch::nn::functional::linear(x, w, b.defined() ? b : torch::Tensor());
}

class EmbeddingUnit final : public Unit {
 public:
  explicit EmbeddingUnit(const LlamaConfig& c) : Unit("model.embed_tokens") {
    weight_ = AddParam("weight", {c.vocab_size, c.hidden_size}, ParamInit::kNormal);
  }
  torch::Tensor Run(const torch::Tensor& ids) override {
    return torch::embedding(weight_, ids);  // (B, T, C)
  }

 private:
  torch::Tensor weight_;  // (V, C)
};

class DecoderUnit final : public Unit {
 public:
  DecoderUnit(const LlamaConfig& c, int layer)
      : Unit("model.layers." + std::to_string(layer)), c_(c) {
    const int64_t h = c.hidden_size, q = c.num_attention_heads * c.head_dim,
                  kv = c.num_key_value_heads * c.head_dim, f = c.intermediate_size;
    input_norm_ = AddParam("input_layernorm.weight", {h}, ParamInit::kOnes);
    q_w_ = AddParam("self_attn.q_proj.weight", {q, h}, ParamInit::kNormal);
    k_w_ = AddParam("self_attn.k_proj.weight", {kv, h}, ParamInit::kNormal);
    v_w_ = AddParam("self_attn.v_proj.weight", {kv, h}, ParamInit::kNormal);
    o_w_ = AddParam("self_attn.o_proj.weight", {h, q}, ParamInit::kNormal);
    if (c.qkv_bias) {
      q_b_ = AddParam("self_attn.q_proj.bias", {q}, ParamInit::kZeros);
      k_b_ = AddParam("self_attn.k_proj.bias", {kv}, ParamInit::kZeros);
      v_b_ = AddParam("self_attn.v_proj.bias", {kv}, ParamInit::kZeros);
    }
    if (c.o_bias) o_b_ = AddParam("self_attn.o_proj.bias", {h}, ParamInit::kZeros);
    post_norm_ = AddParam("post_attention_layernorm.weight", {h}, ParamInit::kOnes);
    gate_w_ = AddParam("mlp.gate_proj.weight", {f, h}, ParamInit::kNormal);
    up_w_ = AddParam("mlp.up_proj.weight", {f, h}, ParamInit::kNormal);
    down_w_ = AddParam("mlp.down_proj.weight", {h, f}, ParamInit::kNormal);
    if (c.mlp_bias) {
      gate_b_ = AddParam("mlp.gate_proj.bias", {f}, ParamInit::kZeros);
      up_b_ = AddParam("mlp.up_proj.bias", {f}, ParamInit::kZeros);
      down_b_ = AddParam("mlp.down_proj.bias", {h}, ParamInit::kZeros);
    }
  }

  torch::Tensor Run(const torch::Tensor& x) override {  // x: (B, T, C)
    torch::Tensor h = x + Attention(RmsNorm(x, input_norm_, c_.rms_norm_eps));
    torch::Tensor n = RmsNorm(h, post_norm_, c_.rms_norm_eps);
    torch::Tensor mlp = Linear(torch::silu(Linear(n, gate_w_, gate_b_)) * Linear(n, up_w_, up_b_),
                               down_w_, down_b_);
    return h + mlp;
  }

 private:
  torch::Tensor Attention(const torch::Tensor& x) {
    const int64_t B = x.size(0), T = x.size(1), nh = c_.num_attention_heads,
                  nkv = c_.num_key_value_heads, hd = c_.head_dim;
    torch::Tensor q = Linear(x, q_w_, q_b_).view({B, T, nh, hd}).transpose(1, 2);  // (B, nh, T, hd)
    torch::Tensor k =
        Linear(x, k_w_, k_b_).view({B, T, nkv, hd}).transpose(1, 2);  // (B, nkv, T, hd)
    torch::Tensor v = Linear(x, v_w_, v_b_).view({B, T, nkv, hd}).transpose(1, 2);
    auto [cos, sin] = Rope(T, x.scalar_type(), x.device());  // (T, hd) each
    q = q * cos + RotateHalf(q) * sin;
    k = k * cos + RotateHalf(k) * sin;
    if (nkv != nh) {  // grouped-query attention: each kv head serves nh / nkv query heads
      k = k.repeat_interleave(nh / nkv, 1);
      v = v.repeat_interleave(nh / nkv, 1);
    }
    torch::Tensor y = at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true);
    y = y.transpose(1, 2).reshape({B, T, nh * hd});
    return Linear(y, o_w_, o_b_);
  }

  // The RoPE tables for length T, cached (rope.h).
  std::pair<torch::Tensor, torch::Tensor> Rope(int64_t T, torch::ScalarType dtype,
                                               torch::Device device) {
    if (!rope_cos_.defined() || rope_cos_.size(0) != T || rope_cos_.scalar_type() != dtype ||
        rope_cos_.device() != device) {
      std::tie(rope_cos_, rope_sin_) = RopeTables(c_, T, dtype, device);
    }
    return {rope_cos_, rope_sin_};
  }

  LlamaConfig c_;
  torch::Tensor input_norm_, post_norm_;  // (C)
  torch::Tensor q_w_, k_w_, v_w_, o_w_;   // (nh*hd, C), (nkv*hd, C) x2, (C, nh*hd)
  torch::Tensor q_b_, k_b_, v_b_, o_b_;   // undefined unless qkv_bias / o_bias
  torch::Tensor gate_w_, up_w_, down_w_;  // (F, C), (F, C), (C, F)
  torch::Tensor gate_b_, up_b_, down_b_;  // undefined unless mlp_bias
  torch::Tensor rope_cos_, rope_sin_;     // cache, (T, hd)
};

// Final norm and LM head. With tie_word_embeddings the head borrows the embedding
// unit's weight instead of owning lm_head.weight (unit.h, Note [tied weights]).
class HeadUnit final : public Unit {
 public:
  HeadUnit(const LlamaConfig& c, const Unit& embedding) : Unit("model.norm"), eps_(c.rms_norm_eps) {
    norm_ = AddParam("weight", {c.hidden_size}, ParamInit::kOnes);
    lm_head_ =
        c.tie_word_embeddings
            ? Borrow(embedding, /*owner_index=*/0, /*index=*/0)
            : AddParamNamed("lm_head.weight", {c.vocab_size, c.hidden_size}, ParamInit::kNormal);
  }
  torch::Tensor Run(const torch::Tensor& x) override {
    return torch::nn::functional::linear(RmsNorm(x, norm_, eps_), lm_head_);  // (B, T, V)
  }

 private:
  double eps_;
  torch::Tensor norm_;     // (C)
  torch::Tensor lm_head_;  // (V, C), owned or embed_tokens.weight
};

}  // namespace

std::vector<std::unique_ptr<Unit>> BuildLlamaUnits(const LlamaConfig& config) {
  std::vector<std::unique_ptr<Unit>> units;
  units.push_back(std::make_unique<EmbeddingUnit>(config));
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    units.push_back(std::make_unique<DecoderUnit>(config, static_cast<int>(i)));
  }
  units.push_back(std::make_unique<HeadUnit>(config, *units.front()));
  return units;
}

torch::Tensor CausalLmLoss(const torch::Tensor& logits, const torch::Tensor& targets) {
  const int64_t V = logits.size(-1);
  return torch::nn::functional::cross_entropy(logits.reshape({-1, V}).to(torch::kFloat32),
                                              targets.reshape({-1}));
}

}  // namespace zerod::models
