#include "engine/models/moe.h"

#include "engine/models/adjacent.h"

namespace zerod::models {
namespace {

torch::Tensor Act(const torch::Tensor& x, Activation a) {
  return a == Activation::kGeluTanh ? torch::gelu(x, "tanh") : torch::silu(x);
}

// The (token, expert) pairs of experts [first, first + n) sorted by expert, once per layer
// (or per group of its experts, expert_units.h).
struct SortedPairs {
  torch::Tensor order;          // (M) int64: index into the flattened (N, k) choices
  torch::Tensor token;          // (M) int64: the token of each sorted row
  torch::Tensor ends;           // (n) int32: end row of each expert's slice (grouped GEMM)
  std::vector<int64_t> counts;  // rows per expert, on the host (the reference path)
};

SortedPairs Sort(const torch::Tensor& experts, int64_t first, int64_t n, int64_t num_experts,
                 bool need_counts) {
  SortedPairs s;
  torch::Tensor local = experts.reshape({-1}) - first;
  const bool all = first == 0 && n == num_experts;
  if (!all) local = torch::where((local >= 0) & (local < n), local, n);  // others sort last
  s.order = std::get<1>(local.sort(/*stable=*/std::optional<bool>(true), /*dim=*/0));
  const torch::Tensor counts = torch::bincount(local, {}, n + 1).narrow(0, 0, n);
  if (!all) s.order = s.order.narrow(0, 0, counts.sum().item<int64_t>());  // this group's pairs
  s.token = s.order.div(experts.size(1), "floor");
  s.ends = counts.cumsum(0).to(torch::kInt32);
  if (need_counts) {
    const torch::Tensor host = counts.cpu();
    s.counts.assign(host.data_ptr<int64_t>(), host.data_ptr<int64_t>() + n);
  }
  return s;
}

// The k slots of each of N tokens, (N*k, C) flattened from (N, k, C), summed per token:
// `values` (M, C) holds the slots order[i] (the pairs of some experts, order without
// repeats); the others count zero. Gathers and a reduction, where index_add would add
// the k slots of a token with atomics (in the values' dtype, in no fixed order: a tenth
// of an MoE step). No autograd history (see SumSlots and GatherRows).
torch::Tensor SlotSum(const torch::Tensor& values, const torch::Tensor& order, int64_t N,
                      int64_t k) {
  const int64_t M = values.size(0), C = values.size(1);
  // Each slot's row of `values`; a slot no pair fills reads row M, a zero row.
  torch::Tensor row = torch::full({N * k}, M, order.options());
  row.scatter_(0, order, torch::arange(M, order.options()));
  const torch::Tensor source =
      M == N * k ? values.contiguous() : torch::cat({values, values.new_zeros({1, C})});
  return source.index_select(0, row).view({N, k, C}).sum(1);
}

// SlotSum with autograd: the gradient of each pair's value is its token's (a gather).
class SumSlots : public torch::autograd::Function<SumSlots> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& values,
                               const torch::Tensor& order, const torch::Tensor& token, int64_t N,
                               int64_t k) {
    ctx->save_for_backward({token});
    return SlotSum(values, order, N, k);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const torch::Tensor token = ctx->get_saved_variables()[0];
    return {grad[0].index_select(0, token), torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor()};
  }
};

// rows = x[token] for the sorted pairs, whose backward sums each token's k slots
// (SlotSum) instead of index_select's backward, an index_add with atomics.
class GatherRows : public torch::autograd::Function<GatherRows> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& token, const torch::Tensor& order, int64_t k) {
    ctx->save_for_backward({order});
    ctx->saved_data["tokens"] = x.size(0);
    ctx->saved_data["k"] = k;
    return x.index_select(0, token);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad) {
    const torch::Tensor order = ctx->get_saved_variables()[0];
    const torch::Tensor dx =
        SlotSum(grad[0], order, ctx->saved_data["tokens"].toInt(), ctx->saved_data["k"].toInt());
    return {dx, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

// Experts of one shape, each starting where the one before ends.
bool Adjacent(const std::vector<torch::Tensor>& w) {
  if (w.empty() || !w.front().is_contiguous()) return false;
  for (size_t e = 1; e < w.size(); ++e) {
    if (w[e].sizes() != w.front().sizes() || !FollowsInStorage(w[e], w[e - 1])) return false;
  }
  return true;
}

class StackedExperts : public torch::autograd::Function<StackedExperts> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext*, at::TensorList w) {
    std::vector<int64_t> shape = w.front().sizes().vec();
    shape.insert(shape.begin(), static_cast<int64_t>(w.size()));
    const torch::Tensor first = w.front();
    return first.as_strided(shape, torch::empty(shape, torch::kMeta).strides(),
                            first.storage_offset());
  }
  // One contiguous gradient, each expert's a slice of it: adjacent again, which the engine
  // copies into its flat buffer as one run (param_group.cpp, GradRuns).
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext*,
                                                 torch::autograd::variable_list grad) {
    return grad[0].contiguous().unbind(0);
  }
};

// One matrix product per expert over its contiguous slice of `rows` (sorted by expert).
torch::Tensor ReferenceExperts(const torch::Tensor& rows, const SortedPairs& s,
                               const ExpertWeights& w, Activation act) {
  std::vector<torch::Tensor> outs;
  if (rows.size(0) == 0) return rows.new_zeros({0, rows.size(1)});
  int64_t begin = 0;
  for (size_t e = 0; e < s.counts.size(); ++e) {
    const int64_t n = s.counts[e];
    if (n == 0) continue;  // unused: its parameters stay out of the graph
    const torch::Tensor h = rows.narrow(0, begin, n);                           // (n, C)
    const torch::Tensor g = torch::nn::functional::linear(h, w.gate[e]);        // (n, F)
    const torch::Tensor u = torch::nn::functional::linear(h, w.up[e]);          // (n, F)
    outs.push_back(torch::nn::functional::linear(Act(g, act) * u, w.down[e]));  // (n, C)
    begin += n;
  }
  return torch::cat(outs);
}

// The same as three grouped GEMMs over every expert at once, on the experts' weights
// stacked into (E, F, C) / (E, C, F) operands (StackExperts: views where the engine laid
// the experts out one after another; autograd gives each expert its slice of the gradient).
torch::Tensor GroupedExperts(const torch::Tensor& rows, const SortedPairs& s,
                             const ExpertWeights& w, Activation act) {
  const torch::Tensor gate = StackExperts(w.gate).transpose(1, 2);  // (E, C, F)
  const torch::Tensor up = StackExperts(w.up).transpose(1, 2);      // (E, C, F)
  const torch::Tensor down = StackExperts(w.down).transpose(1, 2);  // (E, F, C)
  const torch::Tensor g = at::_grouped_mm(rows, gate, s.ends);      // (N*k, F)
  const torch::Tensor u = at::_grouped_mm(rows, up, s.ends);
  return at::_grouped_mm(Act(g, act) * u, down, s.ends);  // (N*k, C)
}

// _grouped_mm's kernels: bfloat16 on a CUDA device, rows a multiple of 16 bytes.
bool UseGroupedGemm(const torch::Tensor& x, const ExpertWeights& w) {
  return x.is_cuda() && x.scalar_type() == torch::kBFloat16 &&
         w.gate.front().scalar_type() == torch::kBFloat16 && x.size(1) % 8 == 0 &&
         w.gate.front().size(0) % 8 == 0;
}

}  // namespace

torch::Tensor StackExperts(const std::vector<torch::Tensor>& w) {
  if (!Adjacent(w)) return torch::stack(w);
  return StackedExperts::apply(at::TensorList(w));
}

Routing Route(const torch::Tensor& x, const torch::Tensor& router_weight, const MoeConfig& moe) {
  Routing r;
  r.logits = torch::nn::functional::linear(x, router_weight);  // (N, E)
  r.probs = torch::softmax(r.logits.to(torch::kFloat32), -1);
  auto [top, experts] = r.probs.topk(moe.top_k, -1);  // (N, k) x2, largest first
  if (moe.norm_topk_prob) top = top / top.sum(-1, /*keepdim=*/true);
  r.weights = moe.weights_in_float32 ? top : top.to(r.logits.scalar_type());
  r.experts = experts;
  r.num_experts = moe.num_experts;
  return r;
}

torch::Tensor Experts(const torch::Tensor& x, const Routing& routing, const ExpertWeights& w,
                      Activation act, int64_t first_expert) {
  const int64_t n = static_cast<int64_t>(w.gate.size());
  const bool grouped = UseGroupedGemm(x, w);
  const SortedPairs s = Sort(routing.experts, first_expert, n, routing.num_experts,
                             /*need_counts=*/!grouped);
  if (s.order.numel() == 0) return torch::zeros_like(x);  // no token chose these experts
  const int64_t k = routing.experts.size(1);
  const torch::Tensor rows = GatherRows::apply(x, s.token, s.order, k);  // (M, C), by expert
  const torch::Tensor y =
      grouped ? GroupedExperts(rows, s, w, act) : ReferenceExperts(rows, s, w, act);
  // transformers: expert output times its weight (in the weight's dtype), summed into the
  // model dtype (here summed in the products' dtype, then rounded once).
  const torch::Tensor weight = routing.weights.reshape({-1}).index_select(0, s.order).unsqueeze(1);
  return SumSlots::apply(y * weight, s.order, s.token, x.size(0), k).to(x.scalar_type());
}

RouterStats StatsOf(const Routing& routing, int64_t top_k) {
  RouterStats s;
  const int64_t E = routing.logits.size(-1);
  const torch::Tensor p = torch::softmax(routing.logits, -1);  // (N, E), the logits' dtype
  s.prob_sum = p.to(torch::kFloat32).sum(0);                   // (E)
  torch::NoGradGuard no_grad;
  const torch::Tensor chosen = std::get<1>(p.topk(top_k, -1));
  s.picks = torch::bincount(chosen.reshape({-1}), {}, E).to(torch::kFloat32);
  s.tokens = p.size(0);
  return s;
}

torch::Tensor RouterAuxLoss(const std::vector<RouterStats>& layers) {
  if (layers.empty()) return {};
  torch::Tensor picks = layers.front().picks, prob_sum = layers.front().prob_sum;
  double rows = static_cast<double>(layers.front().tokens);
  for (size_t l = 1; l < layers.size(); ++l) {
    picks = picks + layers[l].picks;
    prob_sum = prob_sum + layers[l].prob_sum;
    rows += static_cast<double>(layers[l].tokens);
  }
  const double E = static_cast<double>(picks.size(0));
  return ((picks / rows) * (prob_sum / rows)).sum() * E;
}

}  // namespace zerod::models
