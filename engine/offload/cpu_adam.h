// AdamW on one rank's shard, on the CPU: fp32 master weights and both moments, the
// update PyTorch's torch.optim.AdamW makes (decoupled weight decay, bias correction),
// threaded with OpenMP. When the model computes in 16 bits, the same pass writes the
// rounded copy that the next all-gather uploads, so the shard is read once per step.
//
// Not here: the SIMD-specialised kernels of the GPU issue; this loop is written so the
// compiler vectorises it.
#pragma once

#include <cstdint>

#include "engine/util/dtype.h"

namespace zerod::offload {

struct AdamWHyper {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;
};

// One AdamW step over n elements. `step` is the 1-based count of updates so far
// (bias correction). Each gradient is first multiplied by `grad_scale` (unscaling of
// fp16 loss scale and clipping, folded into one factor).
// If `out16` is non-null it receives the new parameters rounded to `out_dtype`
// (kFloat16 or kBFloat16).
void AdamWStep(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
               const AdamWHyper& hyper, int64_t step, float grad_scale, void* out16 = nullptr,
               DType out_dtype = DType::kBFloat16);

// Sum of squares of n floats, in double (the shard's part of the global grad norm).
double SumOfSquares(const float* x, int64_t n);

// Round-to-nearest-even conversions between float and the 16-bit types, bit-exact with
// PyTorch's casts. `dtype` is kFloat16 or kBFloat16.
void ConvertFromFloat(const float* src, void* dst, int64_t n, DType dtype);
void ConvertToFloat(const void* src, float* dst, int64_t n, DType dtype);

}  // namespace zerod::offload
