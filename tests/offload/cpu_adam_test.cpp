#include "engine/offload/cpu_adam.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

#include "engine/offload/host_array.h"

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

// ---- Kernels against a plain scalar loop --------------------------------------------

// The update as a plain loop, separate from the library's kernels: what every kernel
// (scalar, AVX2, AVX-512) must reproduce bit for bit. Float operations in torch's order;
// this file is built for baseline x86-64, which has no FMA instruction to fuse them with.
// 16-bit outputs use c10's casts. `g` holds the gradients already converted to float.
void ScalarReference(float* p, const float* g, float* m, float* v, int64_t n, const AdamWHyper& h,
                     int64_t step, float grad_scale, uint16_t* out, DType out_dtype) {
  const float beta1 = static_cast<float>(h.beta1), beta2 = static_cast<float>(h.beta2);
  const float omb1 = static_cast<float>(1.0 - h.beta1), omb2 = static_cast<float>(1.0 - h.beta2);
  const float eps = static_cast<float>(h.eps);
  const float decay = static_cast<float>(1.0 - h.lr * h.weight_decay);
  const float neg_step_size =
      static_cast<float>(-h.lr / (1.0 - std::pow(h.beta1, static_cast<double>(step))));
  const float bias2_sqrt =
      static_cast<float>(std::sqrt(1.0 - std::pow(h.beta2, static_cast<double>(step))));
  for (int64_t i = 0; i < n; ++i) {
    const float gi = g[i] * grad_scale;
    float pi = p[i] * decay;
    const float mi = beta1 * m[i] + omb1 * gi;
    const float vi = beta2 * v[i] + omb2 * gi * gi;
    const float denom = std::sqrt(vi) / bias2_sqrt + eps;
    pi += neg_step_size * mi / denom;
    p[i] = pi, m[i] = mi, v[i] = vi;
    if (out != nullptr) {
      out[i] = out_dtype == DType::kBFloat16 ? c10::BFloat16(pi).x : c10::Half(pi).x;
    }
  }
}

// Index of the first element whose bits differ, or -1.
template <typename T>
int64_t FirstMismatch(const T* a, const T* b, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    if (std::memcmp(a + i, b + i, sizeof(T)) != 0) return i;
  }
  return -1;
}

std::vector<CpuAdamIsa> AvailableIsas() {
  std::vector<CpuAdamIsa> isas;
  for (CpuAdamIsa isa : {CpuAdamIsa::kScalar, CpuAdamIsa::kAvx2, CpuAdamIsa::kAvx512}) {
    if (isa <= BestCpuAdamIsa()) isas.push_back(isa);
  }
  return isas;
}

std::vector<float> RandomFloats(int64_t n, float scale, bool positive) {
  torch::Tensor t = torch::randn({n}) * scale;
  if (positive) t = t.abs();
  return std::vector<float>(t.data_ptr<float>(), t.data_ptr<float>() + n);
}

// Gradients representable in `dtype`: their bits (16-bit types) and their float values.
struct Grads {
  std::vector<uint16_t> bits16;
  std::vector<float> values;
};

Grads RandomGrads(int64_t n, DType dtype) {
  Grads g{{}, RandomFloats(n, 1e-2f, false)};
  if (dtype == DType::kFloat32) return g;
  g.bits16.resize(n);
  ConvertFromFloat(g.values.data(), g.bits16.data(), n, dtype);
  ConvertToFloat(g.bits16.data(), g.values.data(), n, dtype);
  return g;
}

// Where AdamWStep writes its 16-bit copy: nowhere, a separate bf16 or fp16 buffer, or
// over the 16-bit gradient (in place, as the engine does).
enum class OutMode { kNone, kBf16, kFp16, kInPlace };
const char* Name(OutMode mode) {
  const char* names[] = {"no copy", "bf16 copy", "fp16 copy", "copy in place"};
  return names[static_cast<int>(mode)];
}

TEST(CpuAdamTest, DispatchPicksTheWidestKernelTheCpuHas) {
  __builtin_cpu_init();
  const CpuAdamIsa want = __builtin_cpu_supports("avx512f") ? CpuAdamIsa::kAvx512
                          : (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c"))
                              ? CpuAdamIsa::kAvx2
                              : CpuAdamIsa::kScalar;
  EXPECT_EQ(BestCpuAdamIsa(), want) << CpuAdamIsaName(BestCpuAdamIsa());
  std::printf("CpuAdam kernel on this CPU: %s\n", CpuAdamIsaName(BestCpuAdamIsa()));
}

TEST(CpuAdamTest, EveryKernelEqualsTheScalarLoopBitwiseForEveryGradientAndOutputInAndOutOfPlace) {
  const AdamWHyper h{.lr = 1e-2, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.1};
  const int64_t step = 3;
  const float scale = 0.75f;
  std::vector<int64_t> sizes;
  for (int64_t n = 1; n <= 67; ++n) sizes.push_back(n);
  sizes.push_back(1000);
  sizes.push_back(100003);  // several OpenMP threads
  torch::manual_seed(2);
  for (int64_t n : sizes) {
    // Offsets move the arrays off their allocation's alignment, so the kernels' scalar
    // head (up to the 16-bit output's first aligned address) and tail both run.
    const int64_t kPad = 37;
    const std::vector<float> p0 = RandomFloats(n + kPad, 1.f, false);
    const std::vector<float> m0 = RandomFloats(n + kPad, 1e-2f, false);
    const std::vector<float> v0 = RandomFloats(n + kPad, 1e-4f, true);
    for (DType grad_dtype : {DType::kFloat32, DType::kBFloat16, DType::kFloat16}) {
      const Grads g = RandomGrads(n + kPad, grad_dtype);
      for (OutMode mode : {OutMode::kNone, OutMode::kBf16, OutMode::kFp16, OutMode::kInPlace}) {
        if (mode == OutMode::kInPlace && grad_dtype == DType::kFloat32) continue;
        const DType out_dtype = mode == OutMode::kFp16      ? DType::kFloat16
                                : mode == OutMode::kInPlace ? grad_dtype
                                                            : DType::kBFloat16;
        for (int64_t off : {int64_t{0}, int64_t{3}, int64_t{kPad}}) {
          std::vector<float> rp(p0), rm(m0), rv(v0);
          std::vector<uint16_t> rout(n + kPad);
          ScalarReference(rp.data() + off, g.values.data() + off, rm.data() + off, rv.data() + off,
                          n, h, step, scale, mode == OutMode::kNone ? nullptr : rout.data() + off,
                          out_dtype);
          for (CpuAdamIsa isa : AvailableIsas()) {
            SCOPED_TRACE(testing::Message()
                         << CpuAdamIsaName(isa) << " grad " << DTypeName(grad_dtype) << " "
                         << Name(mode) << " n " << n << " offset " << off);
            std::vector<float> p(p0), m(m0), v(v0), g32(g.values);
            std::vector<uint16_t> g16(g.bits16), out(n + kPad);
            const void* grad = grad_dtype == DType::kFloat32
                                   ? static_cast<const void*>(g32.data() + off)
                                   : static_cast<const void*>(g16.data() + off);
            uint16_t* out16 = mode == OutMode::kNone      ? nullptr
                              : mode == OutMode::kInPlace ? g16.data() + off
                                                          : out.data() + off;
            AdamWStepWithIsa(isa, p.data() + off, grad, grad_dtype, m.data() + off, v.data() + off,
                             n, h, step, scale, out16, out_dtype);
            ASSERT_EQ(FirstMismatch(p.data(), rp.data(), n + kPad), -1);
            ASSERT_EQ(FirstMismatch(m.data(), rm.data(), n + kPad), -1);
            ASSERT_EQ(FirstMismatch(v.data(), rv.data(), n + kPad), -1);
            if (mode == OutMode::kInPlace) {
              ASSERT_EQ(FirstMismatch(g16.data() + off, rout.data() + off, n), -1);
            } else if (mode != OutMode::kNone) {
              ASSERT_EQ(FirstMismatch(out.data(), rout.data(), n + kPad), -1);
            }
            // Out of place (AdamWStepInto): the same bits in the arrays written, and the
            // arrays read left as they were.
            std::vector<float> pf(p0), mf(m0), vf(v0), pt(n + kPad), mt(n + kPad), vt(n + kPad);
            std::vector<uint16_t> g16t(g.bits16), outt(n + kPad);
            const void* grad_t = grad_dtype == DType::kFloat32
                                     ? static_cast<const void*>(g32.data() + off)
                                     : static_cast<const void*>(g16t.data() + off);
            uint16_t* out16_t = mode == OutMode::kNone      ? nullptr
                                : mode == OutMode::kInPlace ? g16t.data() + off
                                                            : outt.data() + off;
            AdamWStepInto({pf.data() + off, mf.data() + off, vf.data() + off},
                          {pt.data() + off, mt.data() + off, vt.data() + off}, grad_t, grad_dtype,
                          n, h, step, scale, out16_t, out_dtype, isa);
            ASSERT_EQ(FirstMismatch(pt.data() + off, rp.data() + off, n), -1);
            ASSERT_EQ(FirstMismatch(mt.data() + off, rm.data() + off, n), -1);
            ASSERT_EQ(FirstMismatch(vt.data() + off, rv.data() + off, n), -1);
            ASSERT_EQ(FirstMismatch(pf.data(), p0.data(), n + kPad), -1);
            ASSERT_EQ(FirstMismatch(mf.data(), m0.data(), n + kPad), -1);
            ASSERT_EQ(FirstMismatch(vf.data(), v0.data(), n + kPad), -1);
            if (out16_t != nullptr) {
              ASSERT_EQ(FirstMismatch(out16_t, rout.data() + off, n), -1);
            }
          }
        }
      }
    }
  }
}

// Out of place into 64-byte aligned arrays (as the optimizer's spare arrays are), the new
// state goes out with streaming stores: the same bits as in place, for every kernel, with
// the arrays at offsets that do and do not keep them aligned with the 16-bit output.
TEST(CpuAdamTest, OutOfPlaceIntoAlignedArraysEqualsInPlaceBitwise) {
  const AdamWHyper h{.lr = 1e-2, .weight_decay = 0.1};
  const int64_t n = 100003, kPad = 64;
  torch::manual_seed(5);
  const std::vector<float> p0 = RandomFloats(n + kPad, 1.f, false);
  const std::vector<float> m0 = RandomFloats(n + kPad, 1e-2f, false);
  const std::vector<float> v0 = RandomFloats(n + kPad, 1e-4f, true);
  const Grads g = RandomGrads(n + kPad, DType::kBFloat16);
  const auto aligned = [&](const std::vector<float>& init) {
    auto a = HostArray::Allocate((n + kPad) * sizeof(float));
    EXPECT_TRUE(a.ok());
    std::copy(init.begin(), init.end(), a->as<float>());
    return *std::move(a);
  };
  for (CpuAdamIsa isa : AvailableIsas()) {
    for (int64_t off : {int64_t{0}, int64_t{3}, int64_t{16}}) {
      SCOPED_TRACE(testing::Message() << CpuAdamIsaName(isa) << " offset " << off);
      std::vector<float> rp(p0), rm(m0), rv(v0);
      std::vector<uint16_t> rout(n);
      AdamWStepWithIsa(isa, rp.data() + off, g.bits16.data() + off, DType::kBFloat16,
                       rm.data() + off, rv.data() + off, n, h, 2, 0.5f, rout.data(),
                       DType::kBFloat16);
      HostArray fp = aligned(p0), fm = aligned(m0), fv = aligned(v0);
      HostArray tp = aligned(p0), tm = aligned(m0), tv = aligned(v0);
      auto out = HostArray::Allocate((n + kPad) * sizeof(uint16_t));
      ASSERT_TRUE(out.ok());
      uint16_t* out16 = out->as<uint16_t>() + off;
      AdamWStepInto({fp.as<float>() + off, fm.as<float>() + off, fv.as<float>() + off},
                    {tp.as<float>() + off, tm.as<float>() + off, tv.as<float>() + off},
                    g.bits16.data() + off, DType::kBFloat16, n, h, 2, 0.5f, out16, DType::kBFloat16,
                    isa);
      EXPECT_EQ(FirstMismatch(tp.as<float>(), rp.data(), n + kPad), -1);
      EXPECT_EQ(FirstMismatch(tm.as<float>(), rm.data(), n + kPad), -1);
      EXPECT_EQ(FirstMismatch(tv.as<float>(), rv.data(), n + kPad), -1);
      EXPECT_EQ(FirstMismatch(out16, rout.data(), n), -1);
      EXPECT_EQ(FirstMismatch(fp.as<float>(), p0.data(), n + kPad), -1);
      EXPECT_EQ(FirstMismatch(fm.as<float>(), m0.data(), n + kPad), -1);
      EXPECT_EQ(FirstMismatch(fv.as<float>(), v0.data(), n + kPad), -1);
    }
  }
}

TEST(CpuAdamTest, SixteenBitGradientsGiveExactlyTheResultOfTheirFloatConversion) {
  const AdamWHyper h{.lr = 1e-3};
  const int64_t n = 100003;
  torch::manual_seed(3);
  const std::vector<float> p0 = RandomFloats(n, 1.f, false);
  for (DType grad_dtype : {DType::kBFloat16, DType::kFloat16}) {
    const Grads g = RandomGrads(n, grad_dtype);
    for (OutMode mode : {OutMode::kNone, OutMode::kBf16, OutMode::kFp16}) {
      SCOPED_TRACE(testing::Message() << DTypeName(grad_dtype) << " " << Name(mode));
      const DType out_dtype = mode == OutMode::kFp16 ? DType::kFloat16 : DType::kBFloat16;
      std::vector<float> p16(p0), m16(n), v16(n), p32(p0), m32(n), v32(n);
      std::vector<uint16_t> out16(n), out32(n);
      for (int64_t step = 1; step <= 2; ++step) {
        AdamWStep(p16.data(), g.bits16.data(), grad_dtype, m16.data(), v16.data(), n, h, step, 0.5f,
                  mode == OutMode::kNone ? nullptr : out16.data(), out_dtype);
        AdamWStep(p32.data(), g.values.data(), m32.data(), v32.data(), n, h, step, 0.5f,
                  mode == OutMode::kNone ? nullptr : out32.data(), out_dtype);
      }
      EXPECT_EQ(FirstMismatch(p16.data(), p32.data(), n), -1);
      EXPECT_EQ(FirstMismatch(m16.data(), m32.data(), n), -1);
      EXPECT_EQ(FirstMismatch(v16.data(), v32.data(), n), -1);
      EXPECT_EQ(FirstMismatch(out16.data(), out32.data(), n), -1);
    }
  }
}

TEST(CpuAdamTest, InPlaceUpdateEqualsOutOfPlaceBitwise) {
  const AdamWHyper h{.lr = 1e-3};
  const int64_t n = 100003;  // several threads, each reading and writing its own range
  torch::manual_seed(4);
  const std::vector<float> p0 = RandomFloats(n, 1.f, false);
  for (DType dtype : {DType::kBFloat16, DType::kFloat16}) {
    const Grads g = RandomGrads(n, dtype);
    std::vector<float> pa(p0), ma(n), va(n), pb(p0), mb(n), vb(n);
    std::vector<uint16_t> separate(n), in_place(g.bits16);
    AdamWStep(pa.data(), g.bits16.data(), dtype, ma.data(), va.data(), n, h, 1, 1.f,
              separate.data(), dtype);
    AdamWStep(pb.data(), in_place.data(), dtype, mb.data(), vb.data(), n, h, 1, 1.f,
              in_place.data(), dtype);
    EXPECT_EQ(FirstMismatch(separate.data(), in_place.data(), n), -1) << DTypeName(dtype);
    EXPECT_EQ(FirstMismatch(pa.data(), pb.data(), n), -1) << DTypeName(dtype);
  }
}

TEST(CpuAdamTest, AWorkerThreadGetsTheSameResultAsTheMainThread) {
  // The engine steps the optimizer from its own std::thread: OpenMP starts a team of
  // its own there, and the ranges, hence the results, are the same.
  const AdamWHyper h{.lr = 1e-3};
  const int64_t n = 100003;
  torch::manual_seed(5);
  const std::vector<float> p0 = RandomFloats(n, 1.f, false);
  const Grads g = RandomGrads(n, DType::kBFloat16);
  std::vector<float> pa(p0), ma(n), va(n), pb(p0), mb(n), vb(n);
  std::vector<uint16_t> main_copy(g.bits16), worker_copy(g.bits16);
  AdamWStep(pa.data(), main_copy.data(), DType::kBFloat16, ma.data(), va.data(), n, h, 1, 1.f,
            main_copy.data(), DType::kBFloat16);
  std::thread worker([&] {
    AdamWStep(pb.data(), worker_copy.data(), DType::kBFloat16, mb.data(), vb.data(), n, h, 1, 1.f,
              worker_copy.data(), DType::kBFloat16);
  });
  worker.join();
  EXPECT_EQ(FirstMismatch(pa.data(), pb.data(), n), -1);
  EXPECT_EQ(FirstMismatch(main_copy.data(), worker_copy.data(), n), -1);
}

TEST(CpuAdamTest, Bf16CopyOfNanAndInfinityInEveryKernel) {
  // lr 0 and no decay: every finite or infinite parameter stays as it is, so the bf16
  // copy is the cast of the input. NaN in any form becomes the quiet NaN 0x7fc0.
  const AdamWHyper h{.lr = 0.0, .weight_decay = 0.0};
  const float inf = std::numeric_limits<float>::infinity();
  auto from_bits = [](uint32_t b) {
    float f;
    std::memcpy(&f, &b, 4);
    return f;
  };
  const std::vector<float> specials = {
      inf,
      -inf,
      std::numeric_limits<float>::quiet_NaN(),
      -std::numeric_limits<float>::quiet_NaN(),
      from_bits(0x7f800001u),             // signalling NaN: the top 16 bits alone would read as inf
      from_bits(0x7fffffffu),             // rounding would carry out of a NaN's payload
      std::numeric_limits<float>::max(),  // rounds up to bf16 inf
      from_bits(0x3f808000u),             // a tie: rounds to even (down)
      from_bits(0x3f818000u),             // a tie: rounds to even (up)
      1e-40f,                             // subnormal
      -0.0f};
  const int64_t n = 200;  // specials at every lane position of the SIMD blocks
  std::vector<float> p0(n);
  for (int64_t i = 0; i < n; ++i) p0[i] = specials[i % specials.size()];
  for (CpuAdamIsa isa : AvailableIsas()) {
    SCOPED_TRACE(CpuAdamIsaName(isa));
    std::vector<float> p(p0), g(n, 0.f), m(n), v(n);
    std::vector<uint16_t> out(n);
    AdamWStepWithIsa(isa, p.data(), g.data(), DType::kFloat32, m.data(), v.data(), n, h, 1, 1.f,
                     out.data(), DType::kBFloat16);
    for (int64_t i = 0; i < n; ++i) {
      const uint16_t want = std::isnan(p0[i]) ? 0x7fc0 : c10::BFloat16(p0[i]).x;
      ASSERT_EQ(out[i], want) << "element " << i << " = " << p0[i];
    }
  }
  // An infinite or NaN gradient poisons the parameter (inf/inf in the step): the same NaN
  // bits in every kernel, and 0x7fc0 in the copy.
  std::vector<float> g0(n);
  for (int64_t i = 0; i < n; ++i) g0[i] = i % 3 == 0 ? inf : i % 3 == 1 ? -inf : NAN;
  std::vector<float> rp(n, 1.f), rm(n), rv(n);
  std::vector<uint16_t> rout(n);
  const AdamWHyper h2{.lr = 1e-3};
  ScalarReference(rp.data(), g0.data(), rm.data(), rv.data(), n, h2, 1, 1.f, rout.data(),
                  DType::kBFloat16);
  for (CpuAdamIsa isa : AvailableIsas()) {
    SCOPED_TRACE(CpuAdamIsaName(isa));
    std::vector<float> p(n, 1.f), m(n), v(n);
    std::vector<uint16_t> out(n);
    AdamWStepWithIsa(isa, p.data(), g0.data(), DType::kFloat32, m.data(), v.data(), n, h2, 1, 1.f,
                     out.data(), DType::kBFloat16);
    EXPECT_EQ(FirstMismatch(p.data(), rp.data(), n), -1);
    EXPECT_EQ(FirstMismatch(m.data(), rm.data(), n), -1);
    EXPECT_EQ(FirstMismatch(v.data(), rv.data(), n), -1);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(out[i], 0x7fc0) << i;
  }
}

TEST(CpuAdamTest, SumOfSquares) {
  std::vector<float> x{3.f, 4.f};
  EXPECT_DOUBLE_EQ(SumOfSquares(x.data(), 2), 25.0);
}

}  // namespace
}  // namespace zerod::offload
