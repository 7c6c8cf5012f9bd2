#include "engine/offload/cpu_adam.h"

#include <omp.h>

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>

// g++ 12's AVX-512 intrinsics initialise their "undefined" operand from itself, which
// -Wmaybe-uninitialized reports at every use (GCC bug 105593, fixed in 13).
#if defined(__x86_64__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

// Note [bit-identical kernels]: the scalar loop and the AVX2 and AVX-512 kernels must
// agree bit for bit. Every kernel does the same IEEE float operations in the same order
// (see UpdateOne), division and sqrt are correctly rounded in all of them, and this file
// is compiled with -ffp-contract=off and uses no FMA intrinsics, so no multiply-add is
// fused in one kernel and not in another. 16-bit conversions are exact: bf16 by the same
// integer rounding in every kernel, fp16 by F16C/AVX-512 (round-to-nearest-even) and
// g++'s _Float16, both IEEE.

namespace zerod::offload {
namespace {

// ---- Scalar ------------------------------------------------------------------------

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

// The per-call constants, in float.
struct AdamScalars {
  float beta1, beta2, one_minus_beta1, one_minus_beta2, eps, decay, neg_step_size, bias2_sqrt,
      grad_scale;
};

enum class Out16 { kNone, kBf16, kFp16 };

// The arrays of one call: the state is read from the `*_in` arrays and written to the
// others (the same ones in place, Note [speculative update]'s own ones out of place).
// `grad` and `out` may be the same buffer (in-place update), so nothing is __restrict.
struct AdamArrays {
  float* param;
  const void* grad;
  float* exp_avg;
  float* exp_avg_sq;
  uint16_t* out;
  const float* param_in;
  const float* exp_avg_in;
  const float* exp_avg_sq_in;
};

template <DType kGrad>
inline float GradAt(const void* grad, int64_t i) {
  if constexpr (kGrad == DType::kBFloat16) {
    return Bf16ToFloat(static_cast<const uint16_t*>(grad)[i]);
  } else if constexpr (kGrad == DType::kFloat16) {
    return Fp16ToFloat(static_cast<const uint16_t*>(grad)[i]);
  } else {
    return static_cast<const float*>(grad)[i];
  }
}

// One element. The order of operations is torch::optim::AdamW's, in float:
//   p *= 1 - lr*wd;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g*g
//   p += (-lr / (1-b1^t)) * m / (sqrt(v) / sqrt(1-b2^t) + eps)   (addcdiv's order)
// The SIMD kernels repeat it operation for operation (Note [bit-identical kernels]).
template <DType kGrad, Out16 kOut>
inline void UpdateOne(const AdamArrays& a, int64_t i, const AdamScalars& c) {
  const float g = GradAt<kGrad>(a.grad, i) * c.grad_scale;  // read before out[i] is written
  float p = a.param_in[i] * c.decay;
  const float m = c.beta1 * a.exp_avg_in[i] + c.one_minus_beta1 * g;
  const float v = c.beta2 * a.exp_avg_sq_in[i] + c.one_minus_beta2 * g * g;
  const float denom = std::sqrt(v) / c.bias2_sqrt + c.eps;
  p += c.neg_step_size * m / denom;
  a.param[i] = p;
  a.exp_avg[i] = m;
  a.exp_avg_sq[i] = v;
  if constexpr (kOut == Out16::kBf16) a.out[i] = FloatToBf16(p);
  if constexpr (kOut == Out16::kFp16) a.out[i] = FloatToFp16(p);
}

template <DType kGrad, Out16 kOut>
void ScalarRange(const AdamArrays& a, int64_t begin, int64_t end, const AdamScalars& c) {
  for (int64_t i = begin; i < end; ++i) UpdateOne<kGrad, kOut>(a, i, c);
}

// Whether element i of every array written with streaming stores (the 16-bit output when
// `out`, the new state when `state`) lies at a multiple of `align` bytes, as streaming
// stores need.
inline bool StreamsAligned(const AdamArrays& a, int64_t i, bool out, bool state, uintptr_t align) {
  const auto at = [align](const void* p) { return reinterpret_cast<uintptr_t>(p) % align == 0; };
  if (out && !at(a.out + i)) return false;
  return !state || (at(a.param + i) && at(a.exp_avg + i) && at(a.exp_avg_sq + i));
}

// The first index in [begin, end) from which the streamed arrays are aligned; `end` if
// there is none. (A period of 32 elements is the longest there is: 64 bytes of 16-bit.)
inline int64_t AlignedStart(const AdamArrays& a, int64_t begin, int64_t end, bool out, bool state,
                            uintptr_t align) {
  for (int64_t i = begin; i < end && i < begin + 32; ++i) {
    if (StreamsAligned(a, i, out, state, align)) return i;
  }
  return end;
}

#if defined(__x86_64__)
// ---- AVX2 + F16C: 16 elements per iteration ---------------------------------------

#define ZEROD_AVX2 __attribute__((target("avx2,f16c")))

struct Avx2Consts {
  __m256 beta1, beta2, one_minus_beta1, one_minus_beta2, eps, decay, neg_step_size, bias2_sqrt,
      grad_scale;
};

ZEROD_AVX2 inline Avx2Consts Broadcast256(const AdamScalars& c) {
  return {_mm256_set1_ps(c.beta1),
          _mm256_set1_ps(c.beta2),
          _mm256_set1_ps(c.one_minus_beta1),
          _mm256_set1_ps(c.one_minus_beta2),
          _mm256_set1_ps(c.eps),
          _mm256_set1_ps(c.decay),
          _mm256_set1_ps(c.neg_step_size),
          _mm256_set1_ps(c.bias2_sqrt),
          _mm256_set1_ps(c.grad_scale)};
}

// Eight gradients from element i on, as float.
template <DType kGrad>
ZEROD_AVX2 inline __m256 LoadGrad256(const void* grad, int64_t i) {
  if constexpr (kGrad == DType::kBFloat16) {
    const __m128i h =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(grad) + i));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  } else if constexpr (kGrad == DType::kFloat16) {
    const __m128i h =
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(static_cast<const uint16_t*>(grad) + i));
    return _mm256_cvtph_ps(h);
  } else {
    return _mm256_loadu_ps(static_cast<const float*>(grad) + i);
  }
}

// UpdateOne on elements [i, i+8); returns the new parameters.
// kStreamState: the new state goes out with streaming stores (aligned; out of place, where
// the arrays written were not just read, so a normal store would first read each line).
template <bool kStreamState>
ZEROD_AVX2 inline __m256 Update256(const AdamArrays& a, int64_t i, __m256 g, const Avx2Consts& k) {
  g = _mm256_mul_ps(g, k.grad_scale);
  __m256 p = _mm256_mul_ps(_mm256_loadu_ps(a.param_in + i), k.decay);
  const __m256 m = _mm256_add_ps(_mm256_mul_ps(k.beta1, _mm256_loadu_ps(a.exp_avg_in + i)),
                                 _mm256_mul_ps(k.one_minus_beta1, g));
  const __m256 v = _mm256_add_ps(_mm256_mul_ps(k.beta2, _mm256_loadu_ps(a.exp_avg_sq_in + i)),
                                 _mm256_mul_ps(_mm256_mul_ps(k.one_minus_beta2, g), g));
  const __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(v), k.bias2_sqrt), k.eps);
  p = _mm256_add_ps(p, _mm256_div_ps(_mm256_mul_ps(k.neg_step_size, m), denom));
  if constexpr (kStreamState) {
    _mm256_stream_ps(a.param + i, p);
    _mm256_stream_ps(a.exp_avg + i, m);
    _mm256_stream_ps(a.exp_avg_sq + i, v);
  } else {
    _mm256_storeu_ps(a.param + i, p);
    _mm256_storeu_ps(a.exp_avg + i, m);
    _mm256_storeu_ps(a.exp_avg_sq + i, v);
  }
  return p;
}

// FloatToBf16 on 8 lanes: the bf16 bits in the low half of each 32-bit lane.
ZEROD_AVX2 inline __m256i Bf16Bits256(__m256 p) {
  const __m256i bits = _mm256_castps_si256(p);
  const __m256i magnitude = _mm256_and_si256(bits, _mm256_set1_epi32(0x7fffffff));
  const __m256i nan = _mm256_cmpgt_epi32(magnitude, _mm256_set1_epi32(0x7f800000));
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
  const __m256i rounded = _mm256_srli_epi32(
      _mm256_add_epi32(_mm256_add_epi32(bits, _mm256_set1_epi32(0x7fff)), lsb), 16);
  return _mm256_blendv_epi8(rounded, _mm256_set1_epi32(0x7fc0), nan);
}

// Sixteen parameters rounded to 16 bits, in element order.
template <Out16 kOut>
ZEROD_AVX2 inline __m256i To16Bit256(__m256 p0, __m256 p1) {
  if constexpr (kOut == Out16::kBf16) {
    // packus interleaves the 128-bit lanes (p0 lo, p1 lo, p0 hi, p1 hi); the permute
    // puts them back in order. Every value fits 16 bits, so nothing saturates.
    const __m256i packed = _mm256_packus_epi32(Bf16Bits256(p0), Bf16Bits256(p1));
    return _mm256_permute4x64_epi64(packed, 0xd8);
  } else {
    return _mm256_set_m128i(_mm256_cvtps_ph(p1, _MM_FROUND_TO_NEAREST_INT),
                            _mm256_cvtps_ph(p0, _MM_FROUND_TO_NEAREST_INT));
  }
}

template <DType kGrad, Out16 kOut, bool kStream, bool kStreamState>
ZEROD_AVX2 void Avx2Range(const AdamArrays& arrays, int64_t begin, int64_t end,
                          const AdamScalars& c) {
  // A local copy: the vector stores may alias anything, so pointers read through the
  // reference would be reloaded after every store.
  const AdamArrays a = arrays;
  int64_t i = begin;
  if constexpr (kStream || kStreamState) {
    const int64_t start = AlignedStart(a, begin, end, kStream, kStreamState, 32);
    ScalarRange<kGrad, kOut>(a, begin, start, c);
    i = start;
  }
  const Avx2Consts k = Broadcast256(c);
  for (; i + 16 <= end; i += 16) {
    // Both gradient vectors are loaded before the output of the 16 elements is stored
    // (in-place update).
    const __m256 g0 = LoadGrad256<kGrad>(a.grad, i);
    const __m256 g1 = LoadGrad256<kGrad>(a.grad, i + 8);
    const __m256 p0 = Update256<kStreamState>(a, i, g0, k);
    const __m256 p1 = Update256<kStreamState>(a, i + 8, g1, k);
    if constexpr (kOut != Out16::kNone) {
      __m256i* dst = reinterpret_cast<__m256i*>(a.out + i);
      if constexpr (kStream) {
        _mm256_stream_si256(dst, To16Bit256<kOut>(p0, p1));
      } else {
        _mm256_storeu_si256(dst, To16Bit256<kOut>(p0, p1));
      }
    }
  }
  ScalarRange<kGrad, kOut>(a, i, end, c);
  // Streaming stores are weakly ordered: make them visible before the caller (or the
  // GPU's copy engine) reads the output.
  if constexpr (kStream || kStreamState) _mm_sfence();
}

// ---- AVX-512F: 32 elements per iteration ------------------------------------------

#define ZEROD_AVX512 __attribute__((target("avx512f")))

struct Avx512Consts {
  __m512 beta1, beta2, one_minus_beta1, one_minus_beta2, eps, decay, neg_step_size, bias2_sqrt,
      grad_scale;
};

ZEROD_AVX512 inline Avx512Consts Broadcast512(const AdamScalars& c) {
  return {_mm512_set1_ps(c.beta1),
          _mm512_set1_ps(c.beta2),
          _mm512_set1_ps(c.one_minus_beta1),
          _mm512_set1_ps(c.one_minus_beta2),
          _mm512_set1_ps(c.eps),
          _mm512_set1_ps(c.decay),
          _mm512_set1_ps(c.neg_step_size),
          _mm512_set1_ps(c.bias2_sqrt),
          _mm512_set1_ps(c.grad_scale)};
}

// Sixteen gradients from element i on, as float.
template <DType kGrad>
ZEROD_AVX512 inline __m512 LoadGrad512(const void* grad, int64_t i) {
  if constexpr (kGrad == DType::kBFloat16) {
    const __m256i h = _mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(grad) + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  } else if constexpr (kGrad == DType::kFloat16) {
    const __m256i h = _mm256_loadu_si256(
        reinterpret_cast<const __m256i*>(static_cast<const uint16_t*>(grad) + i));
    return _mm512_cvtph_ps(h);
  } else {
    return _mm512_loadu_ps(static_cast<const float*>(grad) + i);
  }
}

// UpdateOne on elements [i, i+16); returns the new parameters.
template <bool kStreamState>  // as in Update256
ZEROD_AVX512 inline __m512 Update512(const AdamArrays& a, int64_t i, __m512 g,
                                     const Avx512Consts& k) {
  g = _mm512_mul_ps(g, k.grad_scale);
  __m512 p = _mm512_mul_ps(_mm512_loadu_ps(a.param_in + i), k.decay);
  const __m512 m = _mm512_add_ps(_mm512_mul_ps(k.beta1, _mm512_loadu_ps(a.exp_avg_in + i)),
                                 _mm512_mul_ps(k.one_minus_beta1, g));
  const __m512 v = _mm512_add_ps(_mm512_mul_ps(k.beta2, _mm512_loadu_ps(a.exp_avg_sq_in + i)),
                                 _mm512_mul_ps(_mm512_mul_ps(k.one_minus_beta2, g), g));
  const __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(v), k.bias2_sqrt), k.eps);
  p = _mm512_add_ps(p, _mm512_div_ps(_mm512_mul_ps(k.neg_step_size, m), denom));
  if constexpr (kStreamState) {
    _mm512_stream_ps(a.param + i, p);
    _mm512_stream_ps(a.exp_avg + i, m);
    _mm512_stream_ps(a.exp_avg_sq + i, v);
  } else {
    _mm512_storeu_ps(a.param + i, p);
    _mm512_storeu_ps(a.exp_avg + i, m);
    _mm512_storeu_ps(a.exp_avg_sq + i, v);
  }
  return p;
}

// FloatToBf16 on 16 lanes, narrowed to 16 bits.
ZEROD_AVX512 inline __m256i Bf16Bits512(__m512 p) {
  const __m512i bits = _mm512_castps_si512(p);
  const __m512i magnitude = _mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff));
  const __mmask16 nan = _mm512_cmpgt_epu32_mask(magnitude, _mm512_set1_epi32(0x7f800000));
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
  const __m512i rounded = _mm512_srli_epi32(
      _mm512_add_epi32(_mm512_add_epi32(bits, _mm512_set1_epi32(0x7fff)), lsb), 16);
  return _mm512_cvtepi32_epi16(_mm512_mask_blend_epi32(nan, rounded, _mm512_set1_epi32(0x7fc0)));
}

// Thirty-two parameters rounded to 16 bits, in element order.
template <Out16 kOut>
ZEROD_AVX512 inline __m512i To16Bit512(__m512 p0, __m512 p1) {
  __m256i lo, hi;
  if constexpr (kOut == Out16::kBf16) {
    lo = Bf16Bits512(p0);
    hi = Bf16Bits512(p1);
  } else {
    lo = _mm512_cvtps_ph(p0, _MM_FROUND_TO_NEAREST_INT);
    hi = _mm512_cvtps_ph(p1, _MM_FROUND_TO_NEAREST_INT);
  }
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

template <DType kGrad, Out16 kOut, bool kStream, bool kStreamState>
ZEROD_AVX512 void Avx512Range(const AdamArrays& arrays, int64_t begin, int64_t end,
                              const AdamScalars& c) {
  // A local copy: the vector stores may alias anything, so pointers read through the
  // reference would be reloaded after every store.
  const AdamArrays a = arrays;
  int64_t i = begin;
  if constexpr (kStream || kStreamState) {
    const int64_t start = AlignedStart(a, begin, end, kStream, kStreamState, 64);
    ScalarRange<kGrad, kOut>(a, begin, start, c);
    i = start;
  }
  const Avx512Consts k = Broadcast512(c);
  for (; i + 32 <= end; i += 32) {
    // Both gradient vectors are loaded before the output of the 32 elements is stored
    // (in-place update).
    const __m512 g0 = LoadGrad512<kGrad>(a.grad, i);
    const __m512 g1 = LoadGrad512<kGrad>(a.grad, i + 16);
    const __m512 p0 = Update512<kStreamState>(a, i, g0, k);
    const __m512 p1 = Update512<kStreamState>(a, i + 16, g1, k);
    if constexpr (kOut != Out16::kNone) {
      __m512i* dst = reinterpret_cast<__m512i*>(a.out + i);
      if constexpr (kStream) {
        _mm512_stream_si512(dst, To16Bit512<kOut>(p0, p1));
      } else {
        _mm512_storeu_si512(dst, To16Bit512<kOut>(p0, p1));
      }
    }
  }
  ScalarRange<kGrad, kOut>(a, i, end, c);
  if constexpr (kStream || kStreamState) _mm_sfence();  // as in Avx2Range
}
#endif  // defined(__x86_64__)

// ---- Dispatch -----------------------------------------------------------------------

using RangeFn = void (*)(const AdamArrays&, int64_t, int64_t, const AdamScalars&);

// Where a streaming store is asked for, the streamed arrays must be alignable: the kernel
// aligns from its first index on (StreamsAligned), or never streams.
struct Streaming {
  bool out = false;    // the 16-bit output
  bool state = false;  // the new state (out of place)
};

template <DType kGrad, Out16 kOut, bool kStream, bool kStreamState>
RangeFn PickIsa(CpuAdamIsa isa) {
#if defined(__x86_64__)
  if (isa == CpuAdamIsa::kAvx512) return &Avx512Range<kGrad, kOut, kStream, kStreamState>;
  if (isa == CpuAdamIsa::kAvx2) return &Avx2Range<kGrad, kOut, kStream, kStreamState>;
#endif
  return &ScalarRange<kGrad, kOut>;
}

template <DType kGrad, Out16 kOut, bool kStream>
RangeFn PickState(CpuAdamIsa isa, bool stream_state) {
  return stream_state ? PickIsa<kGrad, kOut, kStream, true>(isa)
                      : PickIsa<kGrad, kOut, kStream, false>(isa);
}

template <DType kGrad, Out16 kOut>
RangeFn PickStreams(CpuAdamIsa isa, Streaming st) {
  if constexpr (kOut == Out16::kNone) {
    return PickState<kGrad, kOut, false>(isa, st.state);  // no output to stream
  } else {
    return st.out ? PickState<kGrad, kOut, true>(isa, st.state)
                  : PickState<kGrad, kOut, false>(isa, st.state);
  }
}

template <DType kGrad>
RangeFn PickOut(CpuAdamIsa isa, Out16 out, Streaming st) {
  switch (out) {
    case Out16::kNone:
      return PickStreams<kGrad, Out16::kNone>(isa, st);
    case Out16::kBf16:
      return PickStreams<kGrad, Out16::kBf16>(isa, st);
    case Out16::kFp16:
      return PickStreams<kGrad, Out16::kFp16>(isa, st);
  }
  return nullptr;
}

RangeFn PickKernel(CpuAdamIsa isa, DType grad, Out16 out, Streaming st) {
  switch (grad) {
    case DType::kBFloat16:
      return PickOut<DType::kBFloat16>(isa, out, st);
    case DType::kFloat16:
      return PickOut<DType::kFloat16>(isa, out, st);
    default:
      return PickOut<DType::kFloat32>(isa, out, st);
  }
}

CpuAdamIsa DetectIsa() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  // libgcc reports AVX-512 and AVX only when the OS saves their registers (XCR0).
  if (__builtin_cpu_supports("avx512f")) return CpuAdamIsa::kAvx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c")) return CpuAdamIsa::kAvx2;
#endif
  return CpuAdamIsa::kScalar;
}

// Threads start at kMinPerThread elements each: below that, waking a thread costs more
// than its share of the work. Range boundaries fall on multiples of kGrain elements
// (256 bytes of fp32, 128 of 16-bit), so 64-byte aligned arrays give every thread
// aligned ranges and no two threads write the same cache line.
constexpr int64_t kMinPerThread = int64_t{1} << 15;
constexpr int64_t kGrain = 64;

// Runs fn(a, begin, end, c) over [0, n) split into one contiguous range per thread. A
// thread reads and writes exactly its own range, which is what makes the in-place update
// (out == grad) safe across threads.
void RunParallel(RangeFn fn, const AdamArrays& a, int64_t n, const AdamScalars& c) {
  const int threads = static_cast<int>(
      std::clamp<int64_t>(n / kMinPerThread, 1, std::max(1, omp_get_max_threads())));
  if (threads == 1) {
    fn(a, 0, n, c);
    return;
  }
  // num_threads() applies to this region only; the caller's OpenMP settings stay.
#pragma omp parallel num_threads(threads)
  {
    const int64_t t = omp_get_thread_num();
    const int64_t count = omp_get_num_threads();
    const int64_t begin = n * t / count / kGrain * kGrain;
    const int64_t end = t + 1 == count ? n : n * (t + 1) / count / kGrain * kGrain;
    fn(a, begin, end, c);
  }
}

}  // namespace

CpuAdamIsa BestCpuAdamIsa() {
  static const CpuAdamIsa isa = DetectIsa();
  return isa;
}

const char* CpuAdamIsaName(CpuAdamIsa isa) {
  switch (isa) {
    case CpuAdamIsa::kAvx512:
      return "avx512";
    case CpuAdamIsa::kAvx2:
      return "avx2";
    case CpuAdamIsa::kScalar:
      break;
  }
  return "scalar";
}

void AdamWStepInto(const AdamWState& from, const AdamWState& to, const void* grad, DType grad_dtype,
                   int64_t n, const AdamWHyper& hyper, int64_t step, float grad_scale, void* out16,
                   DType out_dtype, CpuAdamIsa isa) {
  assert(grad_dtype == DType::kFloat32 || Is16Bit(grad_dtype));
  assert(out16 == nullptr || Is16Bit(out_dtype));
  assert(out16 != grad || Is16Bit(grad_dtype));
  if (n <= 0) return;
  // A kernel the CPU cannot run would fault; never go above what it has.
  isa = std::min(isa, BestCpuAdamIsa());
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
  const Out16 out = out16 == nullptr                ? Out16::kNone
                    : out_dtype == DType::kBFloat16 ? Out16::kBf16
                                                    : Out16::kFp16;
  // The output is write-only: streaming stores skip the read-for-ownership that a normal
  // store costs (2 more bytes of traffic per parameter). In place, its lines were just read
  // for the gradient and sit in the cache, so a normal store is the cheaper one.
  // Out of place, the new state is write-only too: without streaming stores every line of
  // it would be read first (12 bytes more per parameter), where it can be aligned with the
  // output (thread ranges start at multiples of kGrain, which keep every alignment).
  const AdamArrays arrays{
      to.param,   grad,         to.exp_avg,     to.exp_avg_sq, static_cast<uint16_t*>(out16),
      from.param, from.exp_avg, from.exp_avg_sq};
  Streaming st{.out = out != Out16::kNone && out16 != grad, .state = to.param != from.param};
  const uintptr_t align = isa == CpuAdamIsa::kAvx512 ? 64 : 32;
  if (st.state && AlignedStart(arrays, 0, kGrain, st.out, true, align) == kGrain) st.state = false;
  RunParallel(PickKernel(isa, grad_dtype, out, st), arrays, n, c);
}

void AdamWStepWithIsa(CpuAdamIsa isa, float* param, const void* grad, DType grad_dtype,
                      float* exp_avg, float* exp_avg_sq, int64_t n, const AdamWHyper& hyper,
                      int64_t step, float grad_scale, void* out16, DType out_dtype) {
  const AdamWState state{param, exp_avg, exp_avg_sq};
  AdamWStepInto(state, state, grad, grad_dtype, n, hyper, step, grad_scale, out16, out_dtype, isa);
}

void AdamWStep(float* param, const void* grad, DType grad_dtype, float* exp_avg, float* exp_avg_sq,
               int64_t n, const AdamWHyper& hyper, int64_t step, float grad_scale, void* out16,
               DType out_dtype) {
  AdamWStepWithIsa(BestCpuAdamIsa(), param, grad, grad_dtype, exp_avg, exp_avg_sq, n, hyper, step,
                   grad_scale, out16, out_dtype);
}

void AdamWStep(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
               const AdamWHyper& hyper, int64_t step, float grad_scale, void* out16,
               DType out_dtype) {
  AdamWStep(param, grad, DType::kFloat32, exp_avg, exp_avg_sq, n, hyper, step, grad_scale, out16,
            out_dtype);
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
