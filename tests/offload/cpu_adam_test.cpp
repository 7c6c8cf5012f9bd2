#include "engine/offload/cpu_adam.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

namespace zerod::offload {
namespace {

// The AdamW update written out in double, straight from its definition.
void ReferenceAdamW(std::vector<double>& p, const std::vector<double>& g, std::vector<double>& m,
                    std::vector<double>& v, const AdamWHyper& h, int step) {
  for (size_t i = 0; i < p.size(); ++i) {
    p[i] *= 1.0 - h.lr * h.weight_decay;
    m[i] = h.beta1 * m[i] + (1.0 - h.beta1) * g[i];
    v[i] = h.beta2 * v[i] + (1.0 - h.beta2) * g[i] * g[i];
    const double mhat = m[i] / (1.0 - std::pow(h.beta1, step));
    const double vhat = v[i] / (1.0 - std::pow(h.beta2, step));
    p[i] -= h.lr * mhat / (std::sqrt(vhat) + h.eps);
  }
}

TEST(CpuAdamTest, MatchesTheAdamWFormula) {
  const AdamWHyper h{.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8, .weight_decay = 0.1};
  const int n = 257;
  torch::manual_seed(0);
  torch::Tensor p0 = torch::randn({n});
  std::vector<float> p(p0.data_ptr<float>(), p0.data_ptr<float>() + n), m(n, 0.f), v(n, 0.f);
  std::vector<double> pd(p.begin(), p.end()), md(n, 0.0), vd(n, 0.0);
  for (int step = 1; step <= 10; ++step) {
    torch::Tensor g = torch::randn({n});
    std::vector<float> gf(g.data_ptr<float>(), g.data_ptr<float>() + n);
    std::vector<double> gd(gf.begin(), gf.end());
    AdamWStep(p.data(), gf.data(), m.data(), v.data(), n, h, step, 1.0f);
    ReferenceAdamW(pd, gd, md, vd, h, step);
  }
  // The reference divides sqrt(v_hat); torch (and CpuAdam) divide sqrt(v)/sqrt(bc2):
  // the same value, so only float rounding separates them.
  for (int i = 0; i < n; ++i) EXPECT_NEAR(p[i], pd[i], 1e-5 * std::max(1.0, std::abs(pd[i])));
}

TEST(CpuAdamTest, MatchesTorchAdamWOver100StepsWithinOnePartPerMillion) {
  const AdamWHyper h{.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01};
  const int n = 4096;
  torch::manual_seed(1);
  torch::Tensor ref = torch::randn({n}).requires_grad_(true);
  torch::optim::AdamW torch_opt({ref}, torch::optim::AdamWOptions(h.lr)
                                           .betas({h.beta1, h.beta2})
                                           .eps(h.eps)
                                           .weight_decay(h.weight_decay));
  torch::Tensor p = ref.detach().clone(), m = torch::zeros({n}), v = torch::zeros({n});
  double worst = 0.0;
  for (int step = 1; step <= 100; ++step) {
    torch::Tensor g = torch::randn({n});
    ref.mutable_grad() = g.clone();
    torch_opt.step();
    AdamWStep(p.data_ptr<float>(), g.data_ptr<float>(), m.data_ptr<float>(), v.data_ptr<float>(), n,
              h, step, 1.0f);
    // Max difference relative to the largest magnitude (||a - b||inf / ||b||inf): an
    // element-wise ratio would divide float rounding by values near zero.
    const double rel =
        (p - ref.detach()).abs().max().item<double>() / ref.detach().abs().max().item<double>();
    worst = std::max(worst, rel);
  }
  EXPECT_LT(worst, 1e-6);
}

TEST(CpuAdamTest, GradScaleIsAppliedBeforeTheUpdate) {
  const AdamWHyper h{.lr = 1e-2, .weight_decay = 0.0};
  std::vector<float> p1{1.f, -2.f}, p2{1.f, -2.f}, m1(2), v1(2), m2(2), v2(2);
  std::vector<float> g{4.f, 8.f}, g_half{2.f, 4.f};
  AdamWStep(p1.data(), g.data(), m1.data(), v1.data(), 2, h, 1, 0.5f);
  AdamWStep(p2.data(), g_half.data(), m2.data(), v2.data(), 2, h, 1, 1.0f);
  EXPECT_EQ(p1, p2);
  EXPECT_EQ(m1, m2);
}

TEST(CpuAdamTest, WritesTheRoundedSixteenBitCopyInTheSamePass) {
  const AdamWHyper h{.lr = 1e-2};
  const int n = 100;
  torch::Tensor p = torch::randn({n}), g = torch::randn({n}), m = torch::zeros({n}),
                v = torch::zeros({n});
  for (auto [dtype, torch_dtype] : {std::pair{DType::kBFloat16, torch::kBFloat16},
                                    std::pair{DType::kFloat16, torch::kFloat16}}) {
    torch::Tensor out = torch::empty({n}, torch_dtype);
    AdamWStep(p.data_ptr<float>(), g.data_ptr<float>(), m.data_ptr<float>(), v.data_ptr<float>(), n,
              h, 1, 1.0f, out.data_ptr(), dtype);
    EXPECT_TRUE(torch::equal(out, p.to(torch_dtype)));
  }
}

TEST(CpuAdamTest, ConversionsAreBitExactWithTorchCasts) {
  torch::Tensor x = torch::randn({10000}) * 100;
  x[0] = std::numeric_limits<float>::infinity();
  x[1] = 1e-8f;  // subnormal in fp16
  for (auto [dtype, torch_dtype] : {std::pair{DType::kBFloat16, torch::kBFloat16},
                                    std::pair{DType::kFloat16, torch::kFloat16}}) {
    torch::Tensor out = torch::empty({10000}, torch_dtype);
    ConvertFromFloat(x.data_ptr<float>(), out.data_ptr(), x.numel(), dtype);
    EXPECT_TRUE(torch::equal(out, x.to(torch_dtype)));
    torch::Tensor back = torch::empty({10000});
    ConvertToFloat(out.data_ptr(), back.data_ptr<float>(), x.numel(), dtype);
    EXPECT_TRUE(torch::equal(back, out.to(torch::kFloat32)));
  }
}

TEST(CpuAdamTest, SumOfSquares) {
  std::vector<float> x{3.f, 4.f};
  EXPECT_DOUBLE_EQ(SumOfSquares(x.data(), 2), 25.0);
}

}  // namespace
}  // namespace zerod::offload
