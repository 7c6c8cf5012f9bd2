#include "engine/offload/cpu_adam.h"

#include <cmath>
#include <cstring>

namespace zerod::offload {
namespace {

inline uint16_t FloatToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return 0x7fc0;  // NaN stays a quiet NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);                    // round to nearest even
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

}  // namespace

void AdamWStep(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
               const AdamWHyper& hyper, int64_t step, float grad_scale, void* out16,
               DType out_dtype) {
  // Same order of operations as torch.optim.AdamW's single-tensor path, in float:
  //   p *= 1 - lr*wd;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
  //   p += (-lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)   (addcdiv's order)
  // Scalars are formed in double and rounded once, as torch does with its options.
  const float beta1 = static_cast<float>(hyper.beta1);
  const float beta2 = static_cast<float>(hyper.beta2);
  const float one_minus_beta1 = static_cast<float>(1.0 - hyper.beta1);
  const float one_minus_beta2 = static_cast<float>(1.0 - hyper.beta2);
  const float eps = static_cast<float>(hyper.eps);
  const float decay = static_cast<float>(1.0 - hyper.lr * hyper.weight_decay);
  const double bias1 = 1.0 - std::pow(hyper.beta1, static_cast<double>(step));
  const double bias2 = 1.0 - std::pow(hyper.beta2, static_cast<double>(step));
  const float neg_step_size = static_cast<float>(-hyper.lr / bias1);
  const float bias2_sqrt = static_cast<float>(std::sqrt(bias2));
  uint16_t* out = static_cast<uint16_t*>(out16);
  const bool to_bf16 = out_dtype == DType::kBFloat16;

#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i] * grad_scale;
    float p = param[i] * decay;
    const float m = beta1 * exp_avg[i] + one_minus_beta1 * g;
    const float v = beta2 * exp_avg_sq[i] + one_minus_beta2 * g * g;
    const float denom = std::sqrt(v) / bias2_sqrt + eps;
    p += neg_step_size * m / denom;
    param[i] = p;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    if (out) out[i] = to_bf16 ? FloatToBf16(p) : FloatToFp16(p);
  }
}

double SumOfSquares(const float* x, int64_t n) {
  double sum = 0.0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  return sum;
}

bool AllFinite(const float* x, int64_t n) {
  int bad = 0;
#pragma omp parallel for reduction(| : bad) schedule(static)
  for (int64_t i = 0; i < n; ++i) bad |= !std::isfinite(x[i]);
  return bad == 0;
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
