// AdamW on one rank's shard, on the CPU: fp32 master weights and both moments, the
// update PyTorch's torch.optim.AdamW makes (decoupled weight decay, bias correction).
// When the model computes in 16 bits, the same pass reads the 16-bit gradient and writes
// the rounded 16-bit copy that the next all-gather uploads, so the shard crosses memory
// once per step. The loop is memory-bandwidth bound: per parameter it reads p, m, v (fp32)
// and g, and writes p, m, v and the 16-bit copy.
//
// Kernels: explicit AVX-512F and AVX2+F16C code and a plain scalar loop, chosen at run
// time for the CPU; all three give bit-identical results (same float operations in the
// same order, no FMA contraction), so a checkpoint does not depend on the host's CPU.
//
// Threading: each call splits [0, n) into one contiguous range per OpenMP thread
// (omp_get_max_threads() of the calling thread; small n runs on fewer threads). Safe to
// call from any std::thread; it changes no global OpenMP setting.
//
// Alignment: any pointers work. 64-byte aligned arrays (HostArray, PinnedPool) are the
// fast case: the 16-bit output is written with streaming stores from its first 64-byte
// boundary on.
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

// The kernels AdamWStep chooses from, best last.
enum class CpuAdamIsa { kScalar, kAvx2, kAvx512 };
// The best kernel this CPU and OS support (AVX2 needs F16C too); AdamWStep uses it.
CpuAdamIsa BestCpuAdamIsa();

// One AdamW step over n elements. `step` is the 1-based count of updates so far
// (bias correction). `grad` holds n elements of `grad_dtype` (kFloat32, kBFloat16 or
// kFloat16); each is converted to float and multiplied by `grad_scale` (unscaling of
// fp16 loss scale and clipping, folded into one factor).
// If `out16` is non-null it receives the new parameters rounded to `out_dtype`
// (kFloat16 or kBFloat16), round-to-nearest-even, bit-exact with PyTorch's casts.
//
// In place: `out16` may equal `grad` when the gradient is 16 bits (each element's
// gradient is read before its output is written, by the same thread). Otherwise out16
// must not overlap any other array, and no two arrays may overlap.
void AdamWStep(float* param, const void* grad, DType grad_dtype, float* exp_avg, float* exp_avg_sq,
               int64_t n, const AdamWHyper& hyper, int64_t step, float grad_scale,
               void* out16 = nullptr, DType out_dtype = DType::kBFloat16);

// The same with a float32 gradient.
void AdamWStep(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
               const AdamWHyper& hyper, int64_t step, float grad_scale, void* out16 = nullptr,
               DType out_dtype = DType::kBFloat16);

// The float32 state of n elements that a step reads and writes.
struct AdamWState {
  float* param;
  float* exp_avg;
  float* exp_avg_sq;
};

// AdamWStep out of place: reads the state in `from` and writes the new state to `to`,
// bitwise what the in-place step leaves (the kernels read every element before writing
// it either way). `from` is left as it was, so an update made ahead of a decision can be
// dropped by not using `to` (Note [speculative update], zero/host_updater.h). The arrays
// of `to` must not overlap those of `from`, the gradient or out16 (from == to: in place).
void AdamWStepInto(const AdamWState& from, const AdamWState& to, const void* grad, DType grad_dtype,
                   int64_t n, const AdamWHyper& hyper, int64_t step, float grad_scale,
                   void* out16 = nullptr, DType out_dtype = DType::kBFloat16,
                   CpuAdamIsa isa = BestCpuAdamIsa());

// Sum of squares of n floats, in double (the shard's part of the global grad norm).
double SumOfSquares(const float* x, int64_t n);

// Round-to-nearest-even conversions between float and the 16-bit types, bit-exact with
// PyTorch's casts. `dtype` is kFloat16 or kBFloat16.
void ConvertFromFloat(const float* src, void* dst, int64_t n, DType dtype);
void ConvertToFloat(const void* src, float* dst, int64_t n, DType dtype);

const char* CpuAdamIsaName(CpuAdamIsa isa);  // "scalar", "avx2", "avx512"
// AdamWStep with the given kernel; one above BestCpuAdamIsa() runs BestCpuAdamIsa().
void AdamWStepWithIsa(CpuAdamIsa isa, float* param, const void* grad, DType grad_dtype,
                      float* exp_avg, float* exp_avg_sq, int64_t n, const AdamWHyper& hyper,
                      int64_t step, float grad_scale, void* out16, DType out_dtype);

}  // namespace zerod::offload
