#include "engine/models/lm_loss.h"

#include "engine/models/chunking.h"

namespace zerod::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Columns [v0, v0 + n) of the logits: (N, n) in the model dtype, soft-capped.
torch::Tensor ChunkLogits(const torch::Tensor& h, const torch::Tensor& weight, int64_t v0,
                          int64_t n, double softcap) {
  return SoftCap(torch::nn::functional::linear(h, weight.narrow(0, v0, n)), softcap);
}

// Where each target falls in the chunk [v0, v0 + n): its column (clamped) and whether it
// is there at all.
std::pair<torch::Tensor, torch::Tensor> TargetsIn(const torch::Tensor& targets, int64_t v0,
                                                  int64_t n) {
  torch::Tensor in = (targets >= v0) & (targets < v0 + n);
  return {(targets - v0).clamp(0, n - 1).unsqueeze(1), in};
}

class LinearCrossEntropyFunction : public torch::autograd::Function<LinearCrossEntropyFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor h, torch::Tensor weight,
                               torch::Tensor targets, double softcap, int64_t columns) {
    torch::NoGradGuard no_grad;
    const int64_t N = h.size(0), V = weight.size(0);
    // Positions without a label keep the target kIgnoreIndex, which no chunk holds.
    const torch::Tensor labelled = targets != kIgnoreIndex;
    TORCH_CHECK(N == 0 || (((targets >= 0) | labelled.logical_not()).all().item<bool>() &&
                           targets.max().item<int64_t>() < V),
                "LinearCrossEntropy: a target lies outside the vocabulary of ", V,
                " (and is not the ignore index ", kIgnoreIndex, ")");
    const auto f32 = h.options().dtype(torch::kFloat32);
    // A running log-sum-exp over the chunks, and each token's target logit.
    torch::Tensor m = torch::full({N}, -std::numeric_limits<float>::infinity(), f32);
    torch::Tensor sum = torch::zeros({N}, f32);
    torch::Tensor target_logit = torch::zeros({N}, f32);
    for (int64_t v0 = 0; v0 < V; v0 += columns) {
      const int64_t n = std::min(columns, V - v0);
      torch::Tensor logits = ChunkLogits(h, weight, v0, n, softcap).to(torch::kFloat32);
      torch::Tensor m_new = torch::maximum(m, std::get<0>(logits.max(1)));
      sum = sum * torch::exp(m - m_new) + torch::exp(logits - m_new.unsqueeze(1)).sum(1);
      m = m_new;
      auto [column, in] = TargetsIn(targets, v0, n);
      target_logit = torch::where(in, logits.gather(1, column).squeeze(1), target_logit);
    }
    torch::Tensor lse = m + torch::log(sum);
    ctx->save_for_backward({h, weight, targets, lse});
    ctx->saved_data["softcap"] = softcap;
    ctx->saved_data["columns"] = columns;
    return torch::where(labelled, lse - target_logit, torch::zeros_like(lse));
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    torch::NoGradGuard no_grad;
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &h = saved[0], &weight = saved[1], &targets = saved[2], &lse = saved[3];
    const double softcap = ctx->saved_data["softcap"].toDouble();
    const int64_t columns = ctx->saved_data["columns"].toInt();
    // (N, 1), 0 where there is no label: such a token's loss is the constant 0.
    const torch::Tensor grad =
        (grad_outputs[0].to(torch::kFloat32) * (targets != kIgnoreIndex)).unsqueeze(1);
    const int64_t V = weight.size(0);
    torch::Tensor dh = torch::zeros(h.sizes(), h.options().dtype(torch::kFloat32));
    torch::Tensor dweight = torch::empty_like(weight);
    for (int64_t v0 = 0; v0 < V; v0 += columns) {
      const int64_t n = std::min(columns, V - v0);
      torch::Tensor capped = ChunkLogits(h, weight, v0, n, softcap).to(torch::kFloat32);
      // d loss / d logit = softmax - onehot(target), times the incoming gradient.
      torch::Tensor g = torch::exp(capped - lse.unsqueeze(1));
      auto [column, in] = TargetsIn(targets, v0, n);
      g.scatter_add_(1, column, -in.to(torch::kFloat32).unsqueeze(1));
      g = g * grad;
      if (softcap > 0) {  // through cap * tanh(x / cap): times 1 - tanh^2
        torch::Tensor t = capped / softcap;
        g = g * (1 - t * t);
      }
      torch::Tensor gd = g.to(h.scalar_type());
      dweight.narrow(0, v0, n).copy_(torch::matmul(gd.t(), h));
      dh += torch::matmul(gd, weight.narrow(0, v0, n)).to(torch::kFloat32);
    }
    return {dh.to(h.scalar_type()), dweight, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor SoftCap(const torch::Tensor& x, double cap) {
  if (cap <= 0) return x;
  return torch::tanh(x / cap) * cap;
}

torch::Tensor TokenCrossEntropy(const torch::Tensor& logits, const torch::Tensor& targets) {
  const int64_t V = logits.size(-1);
  return torch::nn::functional::cross_entropy(logits.reshape({-1, V}).to(torch::kFloat32),
                                              targets.reshape({-1}),
                                              torch::nn::functional::CrossEntropyFuncOptions()
                                                  .reduction(torch::kNone)
                                                  .ignore_index(kIgnoreIndex))
      .view(targets.sizes());
}

torch::Tensor CausalLmLoss(const torch::Tensor& logits, const torch::Tensor& targets) {
  const int64_t V = logits.size(-1);
  return torch::nn::functional::cross_entropy(
      logits.reshape({-1, V}).to(torch::kFloat32), targets.reshape({-1}),
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kIgnoreIndex));
}

torch::Tensor LinearCrossEntropy(const torch::Tensor& h, const torch::Tensor& weight,
                                 const torch::Tensor& targets, double softcap, int64_t columns) {
  torch::Tensor flat = h.reshape({-1, h.size(-1)});
  if (columns <= 0) columns = LogitChunkColumns(flat.size(0), weight.size(0));
  return LinearCrossEntropyFunction::apply(flat, weight, targets.reshape({-1}), softcap, columns)
      .view(targets.sizes());
}

}  // namespace zerod::models
