#include "engine/offload/cpu_adam.h"

#include <cmath>
#include <cstring>

namespace zerod::offload {
namespace {

inline uint16_t FloatToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;  // NaN stays a quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);                  // round to nearest even
  return static_cast<uint16_t>(bits >> 16);
}

inline float Bf16ToFloat(uint16_t h) {
  uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// g++ implements _Float16 conversions with IEEE round-to-nearest-even (F16C when the
// target has it, a soft routine otherwise).
inline uint16_t FloatToFp16(float f) {
  _Float16 h = static_cast<_Float16>(f);
  uint16_t bits;
  std::memcpy(&bits, &h, 2);
  return bits;
}

inline float Fp16ToFloat(uint16_t bits) {
  _Float16 h;
  std::memcpy(&h, &bits, 2);
  return static_cast<float>(h);
}

// The update over [0, n), one instantiation per output kind so the inner loop has no
// branches. Compiled for AVX-512, AVX2 and baseline x86-64; the loader picks the best
// the CPU has (GCC target_clones), so one binary runs everywhere at full width.
struct AdamScalars {
  float beta1, beta2, one_minus_beta1, one_minus_beta2, eps, decay, neg_step_size, bias2_sqrt,
      grad_scale;
};

enum class Out16 { kNone, kBf16, kFp16 };

template <Out16 kOut>
inline void AdamWLoop(float* __restrict param, const float* __restrict grad,
                      float* __restrict exp_avg, float* __restrict exp_avg_sq,
                      uint16_t* __restrict out, int64_t n, const AdamScalars& c) {
#pragma omp parallel for simd schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i] * c.grad_scale;
    float p = param[i] * c.decay;
    const float m = c.beta1 * exp_avg[i] + c.one_minus_beta1 * g;
    const float v = c.beta2 * exp_avg_sq[i] + c.one_minus_beta2 * g * g;
    const float denom = std::sqrt(v) / c.bias2_sqrt + c.eps;
    p += c.neg_step_size * m / denom;
    param[i] = p;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    if constexpr (kOut == Out16::kBf16) out[i] = FloatToBf16(p);
    if constexpr (kOut == Out16::kFp16) out[i] = FloatToFp16(p);
  }
}

#define ZEROD_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

ZEROD_SIMD_CLONES void AdamWNone(float* p, const float* g, float* m, float* v, uint16_t* o,
                                 int64_t n, const AdamScalars& c) {
  AdamWLoop<Out16::kNone>(p, g, m, v, o, n, c);
}
ZEROD_SIMD_CLONES void AdamWBf16(float* p, const float* g, float* m, float* v, uint16_t* o,
                                 int64_t n, const AdamScalars& c) {
  AdamWLoop<Out16::kBf16>(p, g, m, v, o, n, c);
}
ZEROD_SIMD_CLONES void AdamWFp16(float* p, const float* g, float* m, float* v, uint16_t* o,
                                 int64_t n, const AdamScalars& c) {
  AdamWLoop<Out16::kFp16>(p, g, m, v, o, n, c);
}

}  // namespace

void AdamWStep(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
               const AdamWHyper& hyper, int64_t step, float grad_scale, void* out16,
               DType out_dtype) {
  // Same order of operations as torch::optim::AdamW, in float:
  //   p *= 1 - lr*wd;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
  //   p += (-lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)   (addcdiv's order)
  // Scalars are formed in double and rounded once, as torch does with its options.
  const double bias1 = 1.0 - std::pow(hyper.beta1, static_cast<double>(step));
  const double bias2 = 1.0 - std::pow(hyper.beta2, static_cast<double>(step));
  const AdamScalars c{static_cast<float>(hyper.beta1),
                      static_cast<float>(hyper.beta2),
                      static_cast<float>(1.0 - hyper.beta1),
                      static_cast<float>(1.0 - hyper.beta2),
                      static_cast<float>(hyper.eps),
                      static_cast<float>(1.0 - hyper.lr * hyper.weight_decay),
                      static_cast<float>(-hyper.lr / bias1),
                      static_cast<float>(std::sqrt(bias2)),
                      grad_scale};
  uint16_t* out = static_cast<uint16_t*>(out16);
  if (out == nullptr) {
    AdamWNone(param, grad, exp_avg, exp_avg_sq, out, n, c);
  } else if (out_dtype == DType::kBFloat16) {
    AdamWBf16(param, grad, exp_avg, exp_avg_sq, out, n, c);
  } else {
    AdamWFp16(param, grad, exp_avg, exp_avg_sq, out, n, c);
  }
}

double SumOfSquares(const float* x, int64_t n) {
  double sum = 0.0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  return sum;
}

void ConvertFromFloat(const float* src, void* dst, int64_t n, DType dtype) {
  uint16_t* out = static_cast<uint16_t*>(dst);
  if (dtype == DType::kBFloat16) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = FloatToBf16(src[i]);
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) out[i] = FloatToFp16(src[i]);
  }
}

void ConvertToFloat(const void* src, float* dst, int64_t n, DType dtype) {
  const uint16_t* in = static_cast<const uint16_t*>(src);
  if (dtype == DType::kBFloat16) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) dst[i] = Bf16ToFloat(in[i]);
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) dst[i] = Fp16ToFloat(in[i]);
  }
}

}  // namespace zerod::offload
