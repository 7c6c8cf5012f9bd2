#include "engine/models/decoder.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/models/attention.h"
#include "engine/models/lm_loss.h"
#include "engine/models/moe.h"
#include "engine/models/rope.h"

namespace zerod::models {
namespace {

// The norms of decoder_config.h, computed in float32 as transformers' do.
torch::Tensor Norm(const torch::Tensor& x, const torch::Tensor& weight, double eps, NormKind kind) {
  torch::Tensor xf = x.to(torch::kFloat32);
  torch::Tensor normed = xf * torch::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  switch (kind) {
    case NormKind::kRmsWeightFirst:
      return (weight * normed).to(x.scalar_type());
    case NormKind::kGemma:
      return (normed * (1.0 + weight.to(torch::kFloat32))).to(x.scalar_type());
    case NormKind::kRms:
      break;
  }
  return weight * normed.to(x.scalar_type());
}

// Gemma's norm weights start at zero (they scale by 1 + w); the others at one.
ParamInit NormInit(NormKind kind) {
  return kind == NormKind::kGemma ? ParamInit::kZeros : ParamInit::kOnes;
}

torch::Tensor Linear(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& b) {
  return torch::nn::functional::linear(x, w, b.defined() ? b : torch::Tensor());
}

torch::Tensor Act(const torch::Tensor& x, Activation a) {
  return a == Activation::kGeluTanh ? torch::gelu(x, "tanh") : torch::silu(x);
}

class EmbeddingUnit final : public Unit {
 public:
  explicit EmbeddingUnit(const DecoderConfig& c)
      : Unit("model.embed_tokens"),
        scale_(c.scale_embeddings),
        hidden_(c.hidden_size),
        pad_(c.pad_token_id) {
    weight_ = AddParam("weight", {c.vocab_size, c.hidden_size}, ParamInit::kNormal, 1.0, pad_);
  }
  torch::Tensor Run(const torch::Tensor& ids, const SequenceLayout&) override {
    // The padding row gets no gradient (nn.Embedding's padding_idx; -1: none).
    torch::Tensor h = torch::embedding(weight_, ids, pad_);  // (B, T, C)
    if (!scale_) return h;
    // transformers: a float32 buffer sqrt(hidden_size), rounded to the weights' dtype.
    return h * torch::scalar_tensor(std::sqrt(static_cast<double>(hidden_)), torch::kFloat32)
                   .to(h.options());
  }

 private:
  bool scale_;
  int64_t hidden_;
  int64_t pad_;           // pad_token_id, -1: none
  torch::Tensor weight_;  // (V, C)
};

// Declares experts [first, end) of a sparse layer (under `layer` = "model.layers.N")
// through `add` (a unit's AddParamNamed): every gate, then every up, then every down
// projection, by their checkpoint names.
template <typename Add>
ExpertWeights AddExpertParams(Add add, const std::string& layer, const MoeConfig& moe,
                              int64_t hidden, int64_t first, int64_t end) {
  const int64_t f = moe.expert_intermediate_size;
  auto kind = [&](const std::string& proj, std::vector<int64_t> shape) {
    std::vector<torch::Tensor> ws;
    for (int64_t e = first; e < end; ++e) {
      ws.push_back(
          add(absl::StrCat(layer, ".", moe.block, ".experts.", e, ".", proj, ".weight"), shape));
    }
    return ws;
  };
  ExpertWeights w;
  w.gate = kind(moe.gate_name, {f, hidden});
  w.up = kind(moe.up_name, {f, hidden});
  w.down = kind(moe.down_name, {hidden, f});
  return w;
}

// Experts [first, end) of a sparse layer as a unit of their own (ZeRO-3's grain: a layer's
// experts are gathered, prefetched, released and placed in groups, decoder_config.h
// ExpertUnits). Units pass one tensor along, so the layer's unit hands its experts' units
// a pack (B, T, 3C + 2k):
//   [ h: the residual stream | m: the MLP's input (normed) | sum: the MLP's output so far
//     | the k routing weights | the k experts' indices ]
// in the model dtype where that holds every part exactly (the weights are in it, and it
// counts the experts' indices: bfloat16 up to 256, float16 2048), else float32 (Mixtral's
// float32 weights). Each unit adds its experts' share to sum; the last hands on h + sum
// (B, T, C) in the model dtype, the next layer's input. The weights carry the router's
// gradient back.
torch::ScalarType PackDtype(torch::ScalarType model, const MoeConfig& moe) {
  const int64_t exact = model == torch::kBFloat16 ? 256 : model == torch::kHalf ? 2048 : 1 << 24;
  return moe.weights_in_float32 || moe.num_experts > exact ? torch::kFloat32 : model;
}

torch::Tensor PackForExperts(const torch::Tensor& h, const torch::Tensor& m,
                             const torch::Tensor& sum, const Routing& r, const MoeConfig& moe) {
  const torch::ScalarType p = PackDtype(h.scalar_type(), moe);
  const int64_t k = r.weights.size(-1);
  const std::vector<int64_t> pairs = {h.size(0), h.size(1), k};
  return torch::cat(
      {h.to(p), m.to(p), sum.to(p), r.weights.to(p).view(pairs), r.experts.to(p).view(pairs)}, -1);
}

class DecoderUnit final : public Unit {
 public:
  DecoderUnit(const DecoderConfig& c, int layer)
      : Unit("model.layers." + std::to_string(layer), layer),
        c_(c),
        window_(c.WindowOf(layer)),
        rope_(c.RopeOf(layer)) {
    const int64_t h = c.hidden_size, q = c.num_attention_heads * c.head_dim,
                  kv = c.num_key_value_heads * c.head_dim, f = c.intermediate_size;
    const ParamInit norm_init = NormInit(c.norm);
    auto norm = [&](const std::string& name) {
      return name.empty() ? torch::Tensor() : AddParam(name, {h}, norm_init);
    };
    attn_in_norm_ = norm(c.norms.before_attention);
    if (c.fused_qkv) {
      qkv_w_ = AddParam("self_attn.qkv_proj.weight", {q + 2 * kv, h}, ParamInit::kNormal);
    } else {
      q_w_ = AddParam("self_attn.q_proj.weight", {q, h}, ParamInit::kNormal);
      k_w_ = AddParam("self_attn.k_proj.weight", {kv, h}, ParamInit::kNormal);
      v_w_ = AddParam("self_attn.v_proj.weight", {kv, h}, ParamInit::kNormal);
    }
    o_w_ = AddParam("self_attn.o_proj.weight", {h, q}, ParamInit::kNormal);
    if (c.qkv_bias) {
      q_b_ = AddParam("self_attn.q_proj.bias", {q}, ParamInit::kZeros);
      k_b_ = AddParam("self_attn.k_proj.bias", {kv}, ParamInit::kZeros);
      v_b_ = AddParam("self_attn.v_proj.bias", {kv}, ParamInit::kZeros);
    }
    if (c.o_bias) o_b_ = AddParam("self_attn.o_proj.bias", {h}, ParamInit::kZeros);
    if (c.qk_norm != QkNorm::kNone) {
      const bool whole = c.qk_norm == QkNorm::kWhole;
      q_norm_ = AddParam("self_attn.q_norm.weight", {whole ? q : c.head_dim}, norm_init);
      k_norm_ = AddParam("self_attn.k_norm.weight", {whole ? kv : c.head_dim}, norm_init);
    }
    attn_out_norm_ = norm(c.norms.after_attention);
    mlp_in_norm_ = norm(c.norms.before_mlp);
    if (c.IsSparse(layer)) {
      AddExperts(c.moe, c.ExpertRange(layer, 0).second);
      split_ = c.ExpertUnits(layer) > 1;
    } else {
      if (c.fused_gate_up) {
        gate_up_w_ = AddParam("mlp.gate_up_proj.weight", {2 * f, h}, ParamInit::kNormal);
      } else {
        gate_w_ = AddParam("mlp.gate_proj.weight", {f, h}, ParamInit::kNormal);
        up_w_ = AddParam("mlp.up_proj.weight", {f, h}, ParamInit::kNormal);
      }
      down_w_ = AddParam("mlp.down_proj.weight", {h, f}, ParamInit::kNormal);
    }
    if (c.mlp_bias && !c.IsSparse(layer)) {
      gate_b_ = AddParam("mlp.gate_proj.bias", {f}, ParamInit::kZeros);
      up_b_ = AddParam("mlp.up_proj.bias", {f}, ParamInit::kZeros);
      down_b_ = AddParam("mlp.down_proj.bias", {h}, ParamInit::kZeros);
    }
    mlp_out_norm_ = norm(c.norms.after_mlp);
  }

  // x: (B, T, C) -> (B, T, C); a layer whose later experts are units of their own hands
  // them the pack of ExpertGroupUnit instead. Attention and RoPE follow `layout` (Note
  // [packed rows], attention.h); the MLP and the router are per token.
  torch::Tensor Run(const torch::Tensor& x, const SequenceLayout& layout) override {
    torch::Tensor h = x + MaybeNorm(Attention(MaybeNorm(x, attn_in_norm_), layout), attn_out_norm_);
    torch::Tensor m = MaybeNorm(h, mlp_in_norm_);
    if (!router_w_.defined()) return h + MaybeNorm(Mlp(m), mlp_out_norm_);
    Routing routing;
    torch::Tensor y = SparseMlp(m, routing);
    if (split_) return PackForExperts(h, m, y, routing, c_.moe);
    return h + MaybeNorm(y, mlp_out_norm_);
  }

  RouterStats TakeRouterStats() override { return std::exchange(stats_, RouterStats()); }

 private:
  auto ParamAdder() {
    return [this](std::string n, std::vector<int64_t> shape) {
      return AddParamNamed(std::move(n), std::move(shape), ParamInit::kNormal);
    };
  }

  // A sparse layer's MLP parameters, in this order: the router, the gate of each of its
  // experts [0, end), their up, their down projections (so each kind is one contiguous
  // run of the flat buffer), then the shared expert and its gate.
  void AddExperts(const MoeConfig& moe, int64_t end) {
    const int64_t h = c_.hidden_size;
    router_w_ = AddParam(moe.block + ".gate.weight", {moe.num_experts, h}, ParamInit::kNormal);
    experts_ = AddExpertParams(ParamAdder(), name(), moe, h, 0, end);
    const std::string block = moe.block + ".";
    if (const int64_t s = moe.shared_expert_intermediate_size; s > 0) {
      gate_w_ = AddParam(block + "shared_expert.gate_proj.weight", {s, h}, ParamInit::kNormal);
      up_w_ = AddParam(block + "shared_expert.up_proj.weight", {s, h}, ParamInit::kNormal);
      down_w_ = AddParam(block + "shared_expert.down_proj.weight", {h, s}, ParamInit::kNormal);
      shared_gate_w_ = AddParam(block + "shared_expert_gate.weight", {1, h}, ParamInit::kNormal);
    }
  }

  // The mixture (moe.h) of the unit's experts, plus the shared expert scaled by its
  // sigmoid gate (Qwen2-MoE); `routing` is set to the layer's.
  torch::Tensor SparseMlp(const torch::Tensor& m, Routing& routing) {  // (B, T, C)
    const torch::Tensor x = m.reshape({-1, m.size(-1)});               // (N, C)
    routing = Route(x, router_w_, c_.moe);
    stats_ = StatsOf(routing, c_.moe.top_k);
    torch::Tensor y = Experts(x, routing, experts_, c_.activation);  // (N, C)
    if (shared_gate_w_.defined()) {
      y = y + torch::sigmoid(Linear(x, shared_gate_w_, {})) * Mlp(x);
    }
    return y.view(m.sizes());
  }

  torch::Tensor MaybeNorm(const torch::Tensor& x, const torch::Tensor& w) const {
    return w.defined() ? Norm(x, w, c_.rms_norm_eps, c_.norm) : x;
  }

  torch::Tensor Mlp(const torch::Tensor& x) {
    torch::Tensor gate, up;
    if (gate_up_w_.defined()) {
      std::vector<torch::Tensor> parts = Linear(x, gate_up_w_, {}).chunk(2, -1);  // (B, T, F) x2
      gate = parts[0], up = parts[1];
    } else {
      gate = Linear(x, gate_w_, gate_b_), up = Linear(x, up_w_, up_b_);
    }
    return Linear(Act(gate, c_.activation) * up, down_w_, down_b_);
  }

  torch::Tensor Attention(const torch::Tensor& x, const SequenceLayout& layout) {
    const int64_t B = x.size(0), T = x.size(1), nh = c_.num_attention_heads,
                  nkv = c_.num_key_value_heads, hd = c_.head_dim;
    torch::Tensor q, k, v;  // (B, T, nh*hd), (B, T, nkv*hd) x2
    if (qkv_w_.defined()) {
      torch::Tensor qkv = Linear(x, qkv_w_, {});
      q = qkv.narrow(-1, 0, nh * hd);
      k = qkv.narrow(-1, nh * hd, nkv * hd);
      v = qkv.narrow(-1, (nh + nkv) * hd, nkv * hd);
    } else {
      q = Linear(x, q_w_, q_b_), k = Linear(x, k_w_, k_b_), v = Linear(x, v_w_, v_b_);
    }
    if (c_.qk_norm == QkNorm::kWhole) {
      q = Norm(q, q_norm_, c_.rms_norm_eps, c_.norm);
      k = Norm(k, k_norm_, c_.rms_norm_eps, c_.norm);
    }
    q = q.view({B, T, nh, hd});
    k = k.view({B, T, nkv, hd});
    if (c_.qk_norm == QkNorm::kPerHead) {
      q = Norm(q, q_norm_, c_.rms_norm_eps, c_.norm);
      k = Norm(k, k_norm_, c_.rms_norm_eps, c_.norm);
    }
    q = q.transpose(1, 2);  // (B, nh, T, hd)
    k = k.transpose(1, 2);  // (B, nkv, T, hd)
    v = v.view({B, T, nkv, hd}).transpose(1, 2);
    auto [cos, sin] = Rope(T, c_.rope_in_float32 ? torch::kFloat32 : x.scalar_type(), x.device());
    if (layout.positions.defined()) {  // each token's row of the tables: (B, 1, T, rotary)
      cos = PositionRows(cos, layout.positions);
      sin = PositionRows(sin, layout.positions);
    }
    q = ApplyRope(q, cos, sin).to(x.scalar_type());
    k = ApplyRope(k, cos, sin).to(x.scalar_type());
    AttentionOptions o;
    if (c_.query_pre_attn_scalar > 0) o.scale = std::pow(c_.query_pre_attn_scalar, -0.5);
    o.window = window_;
    o.softcap = c_.attn_softcap;
    torch::Tensor y = CausalAttention(q, k, v, o, layout);  // (B, nh, T, hd)
    y = y.transpose(1, 2).reshape({B, T, nh * hd});
    return Linear(y, o_w_, o_b_);
  }

  // The layer's RoPE tables for length T, cached (rope.h).
  std::pair<torch::Tensor, torch::Tensor> Rope(int64_t T, torch::ScalarType dtype,
                                               torch::Device device) {
    if (!rope_cos_.defined() || rope_cos_.size(0) != T || rope_cos_.scalar_type() != dtype ||
        rope_cos_.device() != device) {
      std::tie(rope_cos_, rope_sin_) =
          RopeTables(rope_, {c_.head_dim, c_.max_position_embeddings}, T, dtype, device);
    }
    return {rope_cos_, rope_sin_};
  }

  DecoderConfig c_;
  bool split_ = false;  // the layer's later experts are units of their own
  int64_t window_;      // 0: full causal attention
  RopeConfig rope_;     // this layer's
  torch::Tensor attn_in_norm_, attn_out_norm_, mlp_in_norm_, mlp_out_norm_;  // (C), or undefined
  torch::Tensor q_w_, k_w_, v_w_, o_w_;   // (nh*hd, C), (nkv*hd, C) x2, (C, nh*hd)
  torch::Tensor qkv_w_;                   // ((nh + 2 nkv) * hd, C) when fused, else undefined
  torch::Tensor q_b_, k_b_, v_b_, o_b_;   // undefined unless qkv_bias / o_bias
  torch::Tensor q_norm_, k_norm_;         // (hd) per head, or (nh*hd), (nkv*hd) whole
  torch::Tensor gate_w_, up_w_, down_w_;  // (F, C), (F, C), (C, F)
  torch::Tensor gate_up_w_;               // (2F, C) when fused, else undefined
  torch::Tensor gate_b_, up_b_, down_b_;  // undefined unless mlp_bias
  // A sparse layer: the router (E, C), the experts, and the shared expert's gate (1, C) (the
  // shared expert itself is gate_w_, up_w_, down_w_); undefined in a dense layer.
  torch::Tensor router_w_, shared_gate_w_;
  ExpertWeights experts_;
  RouterStats stats_;                  // of the last forward, until taken
  torch::Tensor rope_cos_, rope_sin_;  // cache, (T, rotary dims)
};

// Experts [first, end) of a sparse layer as a unit of their own (see PackForExperts).
class ExpertGroupUnit final : public Unit {
 public:
  ExpertGroupUnit(const DecoderConfig& c, int layer, int64_t first, int64_t end, bool last)
      : Unit(absl::StrCat("model.layers.", layer, ".experts.", first, "-", end - 1), layer),
        c_(c),
        first_(first),
        last_(last) {
    experts_ = AddExpertParams(
        [this](std::string n, std::vector<int64_t> shape) {
          return AddParamNamed(std::move(n), std::move(shape), ParamInit::kNormal);
        },
        "model.layers." + std::to_string(layer), c.moe, c.hidden_size, first, end);
  }

  torch::Tensor Run(const torch::Tensor& x, const SequenceLayout&) override {  // (B, T, 3C + 2k)
    const int64_t C = c_.hidden_size, k = c_.moe.top_k;
    const torch::ScalarType dtype = experts_.gate.front().scalar_type();
    const torch::Tensor h = x.narrow(-1, 0, C).to(dtype);
    const torch::Tensor m = x.narrow(-1, C, C).to(dtype).reshape({-1, C});  // (N, C)
    Routing routing;
    routing.weights = x.narrow(-1, 3 * C, k).reshape({-1, k});
    routing.weights = routing.weights.to(c_.moe.weights_in_float32 ? torch::kFloat32 : dtype);
    routing.experts = x.narrow(-1, 3 * C + k, k).reshape({-1, k}).to(torch::kInt64);
    routing.num_experts = c_.moe.num_experts;
    const torch::Tensor y = Experts(m, routing, experts_, c_.activation, first_).view(h.sizes());
    const torch::Tensor sum = x.narrow(-1, 2 * C, C).to(dtype) + y;
    if (last_) return h + sum;
    return torch::cat({x.narrow(-1, 0, 2 * C), sum.to(x.scalar_type()), x.narrow(-1, 3 * C, 2 * k)},
                      -1);
  }

 private:
  DecoderConfig c_;
  int64_t first_;  // the layer's index of this unit's first expert
  bool last_;      // the layer's last group: hands on the residual stream alone
  ExpertWeights experts_;
};

// Final norm and LM head. With tie_word_embeddings the head borrows the embedding
// unit's weight instead of owning lm_head.weight (unit.h, Note [tied weights]).
class HeadUnit final : public Unit {
 public:
  HeadUnit(const DecoderConfig& c, const Unit& embedding) : Unit("model.norm"), c_(c) {
    norm_ = AddParam("weight", {c.hidden_size}, NormInit(c.norm));
    lm_head_ =
        c.tie_word_embeddings
            ? Borrow(embedding, /*owner_index=*/0, /*index=*/0)
            : AddParamNamed("lm_head.weight", {c.vocab_size, c.hidden_size}, ParamInit::kNormal);
  }
  torch::Tensor Run(const torch::Tensor& x, const SequenceLayout&) override {
    torch::Tensor logits = torch::nn::functional::linear(Normed(x), lm_head_);  // (B, T, V)
    return SoftCap(logits, c_.final_softcap);
  }
  torch::Tensor RunLoss(const torch::Tensor& x, const torch::Tensor& targets,
                        const SequenceLayout&) override {
    return LinearCrossEntropy(Normed(x), lm_head_, targets, c_.final_softcap);  // (B, T)
  }

 private:
  torch::Tensor Normed(const torch::Tensor& x) const {
    return Norm(x, norm_, c_.rms_norm_eps, c_.norm);
  }
  DecoderConfig c_;
  torch::Tensor norm_;     // (C)
  torch::Tensor lm_head_;  // (V, C), owned or embed_tokens.weight
};

}  // namespace

std::vector<std::unique_ptr<Unit>> BuildDecoderUnits(const DecoderConfig& config) {
  std::vector<std::unique_ptr<Unit>> units;
  units.push_back(std::make_unique<EmbeddingUnit>(config));
  for (int64_t i = 0; i < config.num_hidden_layers; ++i) {
    units.push_back(std::make_unique<DecoderUnit>(config, static_cast<int>(i)));
    const int64_t groups = config.ExpertUnits(i);
    for (int64_t g = 1; g < groups; ++g) {
      const auto [first, end] = config.ExpertRange(i, g);
      units.push_back(std::make_unique<ExpertGroupUnit>(config, static_cast<int>(i), first, end,
                                                        g == groups - 1));
    }
  }
  units.push_back(std::make_unique<HeadUnit>(config, *units.front()));
  return units;
}

}  // namespace zerod::models
