#include "engine/models/gpt2.h"

#include <cmath>

#include "engine/models/attention.h"
#include "engine/models/lm_loss.h"

namespace zerod::models {
namespace {

// transformers' Conv1D: x @ W + b with W stored (in, out).
torch::Tensor Conv1D(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  return torch::matmul(x, w) + b;
}

torch::Tensor LayerNorm(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b,
                        double eps) {
  return torch::layer_norm(x, {x.size(-1)}, w, b, eps);
}

class EmbeddingUnit final : public Unit {
 public:
  explicit EmbeddingUnit(const Gpt2Config& c) : Unit("transformer") {
    wte_ = AddParam("wte.weight", {c.vocab_size, c.n_embd}, ParamInit::kNormal);
    wpe_ = AddParam("wpe.weight", {c.n_positions, c.n_embd}, ParamInit::kNormal);
  }
  // ids (B, T); a packed row's positions restart at each document (Note [packed rows]).
  torch::Tensor Run(const torch::Tensor& ids, const SequenceLayout& layout) override {
    torch::Tensor pos =
        layout.positions.defined() ? layout.positions : torch::arange(ids.size(1), ids.options());
    return torch::embedding(wte_, ids) + torch::embedding(wpe_, pos);  // (B, T, C)
  }

 private:
  torch::Tensor wte_;  // (V, C)
  torch::Tensor wpe_;  // (n_positions, C)
};

class BlockUnit final : public Unit {
 public:
  BlockUnit(const Gpt2Config& c, int layer)
      : Unit("transformer.h." + std::to_string(layer), layer), c_(c) {
    const int64_t C = c.n_embd, F = c.n_inner;
    // transformers scales the init of both c_proj weights by 1 / sqrt(2 * n_layer).
    const double proj_scale = 1.0 / std::sqrt(2.0 * static_cast<double>(c.n_layer));
    ln1_w_ = AddParam("ln_1.weight", {C}, ParamInit::kOnes);
    ln1_b_ = AddParam("ln_1.bias", {C}, ParamInit::kZeros);
    attn_w_ = AddParam("attn.c_attn.weight", {C, 3 * C}, ParamInit::kNormal);
    attn_b_ = AddParam("attn.c_attn.bias", {3 * C}, ParamInit::kZeros);
    attn_proj_w_ = AddParam("attn.c_proj.weight", {C, C}, ParamInit::kNormal, proj_scale);
    attn_proj_b_ = AddParam("attn.c_proj.bias", {C}, ParamInit::kZeros);
    ln2_w_ = AddParam("ln_2.weight", {C}, ParamInit::kOnes);
    ln2_b_ = AddParam("ln_2.bias", {C}, ParamInit::kZeros);
    fc_w_ = AddParam("mlp.c_fc.weight", {C, F}, ParamInit::kNormal);
    fc_b_ = AddParam("mlp.c_fc.bias", {F}, ParamInit::kZeros);
    mlp_proj_w_ = AddParam("mlp.c_proj.weight", {F, C}, ParamInit::kNormal, proj_scale);
    mlp_proj_b_ = AddParam("mlp.c_proj.bias", {C}, ParamInit::kZeros);
  }

  torch::Tensor Run(const torch::Tensor& x, const SequenceLayout& layout) override {  // (B, T, C)
    const double eps = c_.layer_norm_epsilon;
    torch::Tensor h = x + Attention(LayerNorm(x, ln1_w_, ln1_b_, eps), layout);
    torch::Tensor a = Conv1D(LayerNorm(h, ln2_w_, ln2_b_, eps), fc_w_, fc_b_);  // (B, T, F)
    a = torch::gelu(a, c_.gelu_exact ? "none" : "tanh");
    return h + Conv1D(a, mlp_proj_w_, mlp_proj_b_);
  }

 private:
  torch::Tensor Attention(const torch::Tensor& x, const SequenceLayout& layout) {
    const int64_t B = x.size(0), T = x.size(1), C = c_.n_embd, nh = c_.n_head, hd = C / nh;
    std::vector<torch::Tensor> qkv = Conv1D(x, attn_w_, attn_b_).split(C, -1);  // 3 x (B, T, C)
    auto heads = [&](const torch::Tensor& t) { return t.view({B, T, nh, hd}).transpose(1, 2); };
    const double scale = c_.scale_attn_weights ? 1.0 / std::sqrt(static_cast<double>(hd)) : 1.0;
    // Causal SDPA with this scale, or within documents (attention.h, Note [packed rows]).
    torch::Tensor y =
        CausalAttention(heads(qkv[0]), heads(qkv[1]), heads(qkv[2]), {.scale = scale}, layout);
    y = y.transpose(1, 2).reshape({B, T, C});  // (B, T, C)
    return Conv1D(y, attn_proj_w_, attn_proj_b_);
  }

  Gpt2Config c_;
  torch::Tensor ln1_w_, ln1_b_, ln2_w_, ln2_b_;  // (C)
  torch::Tensor attn_w_, attn_b_;                // (C, 3C), (3C)
  torch::Tensor attn_proj_w_, attn_proj_b_;      // (C, C), (C)
  torch::Tensor fc_w_, fc_b_;                    // (C, F), (F)
  torch::Tensor mlp_proj_w_, mlp_proj_b_;        // (F, C), (C)
};

class HeadUnit final : public Unit {
 public:
  HeadUnit(const Gpt2Config& c, const Unit& embedding)
      : Unit("transformer.ln_f"), eps_(c.layer_norm_epsilon) {
    ln_w_ = AddParam("weight", {c.n_embd}, ParamInit::kOnes);
    ln_b_ = AddParam("bias", {c.n_embd}, ParamInit::kZeros);
    lm_head_ = c.tie_word_embeddings
                   ? Borrow(embedding, /*owner_index=*/0, /*index=*/0)  // wte
                   : AddParamNamed("lm_head.weight", {c.vocab_size, c.n_embd}, ParamInit::kNormal);
  }
  torch::Tensor Run(const torch::Tensor& x, const SequenceLayout&) override {
    return torch::nn::functional::linear(LayerNorm(x, ln_w_, ln_b_, eps_), lm_head_);  // (B, T, V)
  }
  torch::Tensor RunLoss(const torch::Tensor& x, const torch::Tensor& targets,
                        const SequenceLayout&) override {
    return LinearCrossEntropy(LayerNorm(x, ln_w_, ln_b_, eps_), lm_head_, targets);  // (B, T)
  }

 private:
  double eps_;
  torch::Tensor ln_w_, ln_b_;  // (C)
  torch::Tensor lm_head_;      // (V, C), nn.Linear layout; wte when tied
};

}  // namespace

std::vector<std::unique_ptr<Unit>> BuildGpt2Units(const Gpt2Config& config) {
  std::vector<std::unique_ptr<Unit>> units;
  units.push_back(std::make_unique<EmbeddingUnit>(config));
  for (int64_t i = 0; i < config.n_layer; ++i) {
    units.push_back(std::make_unique<BlockUnit>(config, static_cast<int>(i)));
  }
  units.push_back(std::make_unique<HeadUnit>(config, *units.front()));
  return units;
}

}  // namespace zerod::models
