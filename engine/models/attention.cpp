#include "engine/models/attention.h"

#include <cmath>
#include <limits>

#include "engine/models/chunking.h"

namespace zerod::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

double ScaleOf(const torch::Tensor& q, const AttentionOptions& o) {
  return o.scale > 0 ? o.scale : 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
}

// Grouped-query attention: each of the nkv heads serves nh / nkv query heads.
torch::Tensor RepeatKv(const torch::Tensor& x, int64_t heads) {
  return x.size(1) == heads ? x : x.repeat_interleave(heads / x.size(1), 1);
}

// Which keys [k0, k0 + nk) the queries [q0, q0 + nq) see: (nq, nk) bool.
torch::Tensor Visible(int64_t q0, int64_t nq, int64_t k0, int64_t nk, int64_t window,
                      torch::Device device) {
  const auto opts = torch::TensorOptions().dtype(torch::kInt64).device(device);
  torch::Tensor d = torch::arange(q0, q0 + nq, opts).unsqueeze(1) -
                    torch::arange(k0, k0 + nk, opts).unsqueeze(0);  // query - key
  torch::Tensor visible = d >= 0;
  if (window > 0) visible = visible & (d < window);
  return visible;
}

// Each token's document (B, T) int64 under a packed layout; an empty tensor without one.
torch::Tensor DocumentsOf(const SequenceLayout& layout, const torch::Tensor& q) {
  if (layout.empty()) return torch::empty({0}, torch::kInt64);
  return DocumentIds(layout, q.size(0), q.size(2));
}

// Visible, and within the same document when `docs` (B, T) is not empty (Note [packed
// rows]): (nq, nk) bool without documents, (B, 1, nq, nk) with them.
torch::Tensor VisibleIn(const torch::Tensor& docs, int64_t q0, int64_t nq, int64_t k0, int64_t nk,
                        int64_t window, torch::Device device) {
  torch::Tensor visible = Visible(q0, nq, k0, nk, window, device);
  if (docs.numel() == 0) return visible;
  torch::Tensor same = docs.narrow(1, q0, nq).unsqueeze(2) == docs.narrow(1, k0, nk).unsqueeze(1);
  return (visible & same).unsqueeze(1);
}

// The scores of queries q (.., nq, hd) against keys k (.., nk, hd), as transformers'
// eager attention makes them: the product in the model dtype, scaled, soft-capped.
torch::Tensor Scores(const torch::Tensor& q, const torch::Tensor& k, double scale, double softcap) {
  torch::Tensor s = torch::matmul(q, k.transpose(-2, -1)) * scale;
  if (softcap > 0) s = torch::tanh(s / softcap) * softcap;
  return s;
}

// Blocks of queries, and the first key each block can see.
struct Block {
  int64_t q0, nq, k0, nk;
};
std::vector<Block> Blocks(int64_t T, int64_t block, int64_t window) {
  std::vector<Block> blocks;
  for (int64_t q0 = 0; q0 < T; q0 += block) {
    const int64_t nq = std::min(block, T - q0);
    const int64_t k0 = window > 0 ? std::max<int64_t>(0, q0 - window + 1) : 0;
    blocks.push_back({q0, nq, k0, q0 + nq - k0});  // nk <= AttentionBlockKeys(block, T, window)
  }
  return blocks;
}

// BlockedAttention on q, k, v of the same heads (B, nh, T, hd), `docs` each token's
// document (B, T) or empty (VisibleIn). Saves q, k, v, the output and each query's
// log-sum-exp (float32); backward recomputes one block's scores at a time.
class BlockedAttentionFunction : public torch::autograd::Function<BlockedAttentionFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor q, torch::Tensor k,
                               torch::Tensor v, torch::Tensor docs, double scale, double softcap,
                               int64_t window, int64_t block) {
    torch::NoGradGuard no_grad;
    const int64_t T = q.size(2);
    torch::Tensor out = torch::empty_like(q);
    torch::Tensor lse = torch::empty({q.size(0), q.size(1), T}, q.options().dtype(torch::kFloat32));
    for (const Block& b : Blocks(T, block, window)) {
      torch::Tensor s =
          Scores(q.narrow(2, b.q0, b.nq), k.narrow(2, b.k0, b.nk), scale, softcap)
              .to(torch::kFloat32)
              .masked_fill(
                  VisibleIn(docs, b.q0, b.nq, b.k0, b.nk, window, q.device()).logical_not(),
                  -std::numeric_limits<float>::infinity());
      lse.narrow(2, b.q0, b.nq).copy_(torch::logsumexp(s, -1));
      torch::Tensor p = torch::softmax(s, -1).to(q.scalar_type());
      out.narrow(2, b.q0, b.nq).copy_(torch::matmul(p, v.narrow(2, b.k0, b.nk)));
    }
    ctx->save_for_backward({q, k, v, out, lse});
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["softcap"] = softcap;
    ctx->saved_data["window"] = window;
    ctx->saved_data["block"] = block;
    ctx->saved_data["docs"] = docs;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    torch::NoGradGuard no_grad;
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &q = saved[0], &k = saved[1], &v = saved[2], &out = saved[3],
                        &lse = saved[4];
    const double scale = ctx->saved_data["scale"].toDouble();
    const double softcap = ctx->saved_data["softcap"].toDouble();
    const int64_t window = ctx->saved_data["window"].toInt();
    const int64_t block = ctx->saved_data["block"].toInt();
    const torch::Tensor docs = ctx->saved_data["docs"].toTensor();
    const auto f32 = torch::kFloat32;
    const torch::Tensor go = grad_outputs[0].to(f32);
    // The softmax's backward needs rowsum(dO * O) = rowsum(P * dP) per query.
    const torch::Tensor delta = (go * out.to(f32)).sum(-1);  // (B, nh, T)
    torch::Tensor dq = torch::zeros(q.sizes(), q.options().dtype(f32));
    torch::Tensor dk = torch::zeros(k.sizes(), k.options().dtype(f32));
    torch::Tensor dv = torch::zeros(v.sizes(), v.options().dtype(f32));
    for (const Block& b : Blocks(q.size(2), block, window)) {
      const torch::Tensor qb = q.narrow(2, b.q0, b.nq), kb = k.narrow(2, b.k0, b.nk),
                          vb = v.narrow(2, b.k0, b.nk), gob = go.narrow(2, b.q0, b.nq);
      torch::Tensor capped = Scores(qb, kb, scale, softcap).to(f32);
      torch::Tensor p =
          torch::exp(capped - lse.narrow(2, b.q0, b.nq).unsqueeze(-1))
              .masked_fill(
                  VisibleIn(docs, b.q0, b.nq, b.k0, b.nk, window, q.device()).logical_not(), 0);
      dv.narrow(2, b.k0, b.nk) +=
          torch::matmul(p.to(q.scalar_type()).to(f32).transpose(-2, -1), gob);
      torch::Tensor ds = p * (torch::matmul(gob, vb.to(f32).transpose(-2, -1)) -
                              delta.narrow(2, b.q0, b.nq).unsqueeze(-1));
      if (softcap > 0) {  // through cap * tanh(x / cap): times 1 - tanh^2
        torch::Tensor t = capped / softcap;
        ds = ds * (1 - t * t);
      }
      ds = ds * scale;
      dq.narrow(2, b.q0, b.nq).copy_(torch::matmul(ds, kb.to(f32)));
      dk.narrow(2, b.k0, b.nk) += torch::matmul(ds.transpose(-2, -1), qb.to(f32));
    }
    const auto dt = q.scalar_type();
    return {dq.to(dt),       dk.to(dt),       dv.to(dt),       torch::Tensor(),
            torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor MaskedAttention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const AttentionOptions& o,
                              const SequenceLayout& layout) {
  const int64_t T = q.size(2), nh = q.size(1);
  const torch::Tensor visible = VisibleIn(DocumentsOf(layout, q), 0, T, 0, T, o.window, q.device());
  torch::Tensor s =
      Scores(q, RepeatKv(k, nh), ScaleOf(q, o), o.softcap)
          .to(torch::kFloat32)
          .masked_fill(visible.logical_not(), -std::numeric_limits<float>::infinity());
  return torch::matmul(torch::softmax(s, -1).to(q.scalar_type()), RepeatKv(v, nh));
}

torch::Tensor BlockedAttention(const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const AttentionOptions& o,
                               const SequenceLayout& layout) {
  const int64_t B = q.size(0), nh = q.size(1), T = q.size(2);
  const int64_t block =
      o.query_block > 0 ? o.query_block : AttentionQueryBlock(B * nh, T, o.window);
  return BlockedAttentionFunction::apply(q, RepeatKv(k, nh), RepeatKv(v, nh),
                                         DocumentsOf(layout, q), ScaleOf(q, o), o.softcap, o.window,
                                         block);
}

bool FlashAttentionApplies(const torch::Tensor& q) {
  const int64_t hd = q.size(-1);
  return q.is_cuda() && (q.scalar_type() == torch::kHalf || q.scalar_type() == torch::kBFloat16) &&
         hd % 8 == 0 && hd <= 256;
}

torch::Tensor FlashWindowAttention(const torch::Tensor& q, const torch::Tensor& k,
                                   const torch::Tensor& v, const AttentionOptions& o,
                                   const SequenceLayout& layout) {
  const int64_t B = q.size(0), T = q.size(2);
  // Flash attention's layout is (B, T, heads, hd); it serves grouped-query heads itself.
  // window_size_left counts the keys before the query: transformers' window W is W - 1.
  const std::optional<int64_t> left = o.window > 0 ? o.window - 1 : -1;
  if (!layout.empty()) {
    // The variable-length kernel: every document of the flattened (B * T, heads, hd)
    // tokens a sequence of its own (Note [packed rows]).
    auto flat = [&](const torch::Tensor& x) {
      return x.transpose(1, 2).reshape({B * T, x.size(1), x.size(3)});
    };
    auto result = at::_flash_attention_forward(
        flat(q), flat(k), flat(v), layout.cu_seqlens, layout.cu_seqlens, layout.max_seqlen,
        layout.max_seqlen, /*dropout_p=*/0.0, /*is_causal=*/true, /*return_debug_mask=*/false,
        ScaleOf(q, o), left, /*window_size_right=*/0);
    return std::get<0>(result).view({B, T, q.size(1), q.size(3)}).transpose(1, 2);
  }
  auto result = at::_flash_attention_forward(
      q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), std::nullopt, std::nullopt, T, T,
      /*dropout_p=*/0.0, /*is_causal=*/true, /*return_debug_mask=*/false, ScaleOf(q, o),
      /*window_size_left=*/left, /*window_size_right=*/0);
  return std::get<0>(result).transpose(1, 2);
}

torch::Tensor CausalAttention(const torch::Tensor& q, const torch::Tensor& k,
                              const torch::Tensor& v, const AttentionOptions& o,
                              const SequenceLayout& layout) {
  const int64_t T = q.size(2), nh = q.size(1);
  if (o.softcap > 0) return BlockedAttention(q, k, v, o, layout);
  const std::optional<double> scale = o.scale > 0 ? std::optional<double>(o.scale) : std::nullopt;
  if (!layout.empty()) {  // Note [packed rows]
    if (FlashAttentionApplies(q)) return FlashWindowAttention(q, k, v, o, layout);
    return at::scaled_dot_product_attention(
        q, RepeatKv(k, nh), RepeatKv(v, nh),
        VisibleIn(DocumentsOf(layout, q), 0, T, 0, T, o.window, q.device()), 0.0,
        /*is_causal=*/false, scale);
  }
  if (o.window > 0 && o.window < T) {
    if (FlashAttentionApplies(q)) return FlashWindowAttention(q, k, v, o);
    return at::scaled_dot_product_attention(q, RepeatKv(k, nh), RepeatKv(v, nh),
                                            Visible(0, T, 0, T, o.window, q.device()), 0.0,
                                            /*is_causal=*/false, scale);
  }
  return at::scaled_dot_product_attention(q, RepeatKv(k, nh), RepeatKv(v, nh), {}, 0.0,
                                          /*is_causal=*/true, scale);
}

}  // namespace zerod::models
