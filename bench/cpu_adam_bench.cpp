// CpuAdam throughput on one large shard, the figure to set beside torch's fused CPU
// AdamW (peer_bench.py's "adam" section times 256 Mi float32 parameters the same way),
// and beside the host memory bandwidth its traffic pattern can reach at all.
//
// Prints one JSON object per variant: float32 gradients without and with the bf16 copy,
// bf16 gradients with the bf16 copy (what zerod runs), and the same in place (the copy
// over the gradient buffer), and a speculative update made by copying the state aside against
// one made out of place. The ceiling is a kernel that moves exactly the bytes of the
// zerod variant (reads p, m, v fp32 and a bf16 gradient, writes p, m, v and a bf16
// output with streaming stores) and does no arithmetic. Each variant reports the
// fraction of that ceiling its own bytes reach; the ceiling is timed alternately with
// the variant, so that a shared machine's drifting bandwidth affects both alike.
//
// Arrays are HostArrays (huge pages) first touched by the threads that later update
// them. Each figure is the median of 5 runs after one warm-up run.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <utility>
#include <vector>

#include "engine/offload/cpu_adam.h"
#include "engine/offload/host_array.h"

namespace {

using zerod::DType;
using zerod::offload::CpuAdamIsa;
using zerod::offload::HostArray;

constexpr int64_t kN = int64_t{256} << 20;  // parameters

HostArray MustAllocate(size_t bytes) {
  absl::StatusOr<HostArray> a = HostArray::Allocate(bytes);
  if (!a.ok()) {
    std::fprintf(stderr, "%s\n", a.status().ToString().c_str());
    std::exit(1);
  }
  return *std::move(a);
}

// A deterministic value in [-1, 1) per index (splitmix64), cheap enough to fill 256 Mi
// elements in parallel.
float Noise(uint64_t i) {
  uint64_t z = i + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<float>(z >> 40) / static_cast<float>(1 << 23) - 1.f;
}

double Seconds(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

double Median(std::vector<double> x) {
  std::sort(x.begin(), x.end());
  return x[x.size() / 2];
}

// Median seconds of a and of b over 5 alternating runs, after one warm-up run of each.
std::pair<double, double> AlternatingMedians(const std::function<void()>& a,
                                             const std::function<void()>& b) {
  a(), b();
  std::vector<double> ta, tb;
  for (int run = 0; run < 5; ++run) ta.push_back(Seconds(a)), tb.push_back(Seconds(b));
  return {Median(ta), Median(tb)};
}

// ---- The bandwidth ceiling: CpuAdam's loads and stores, no arithmetic ----------------
// p, m and v are written back unchanged; an empty asm hides that from the compiler, which
// would otherwise drop the stores of the values just loaded. out <- g moves the 16-bit
// stream with streaming stores, as CpuAdam writes its copy. Ranges are 64-element aligned
// (HostArrays are 64-byte aligned).

__attribute__((target("avx512f"))) void MoveAvx512(float* p, const uint16_t* g, float* m, float* v,
                                                   uint16_t* out, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; i += 32) {
    __m512 p0 = _mm512_load_ps(p + i), p1 = _mm512_load_ps(p + i + 16);
    __m512 m0 = _mm512_load_ps(m + i), m1 = _mm512_load_ps(m + i + 16);
    __m512 v0 = _mm512_load_ps(v + i), v1 = _mm512_load_ps(v + i + 16);
    const __m512i gg = _mm512_load_si512(g + i);
    asm("" : "+v"(p0), "+v"(p1), "+v"(m0), "+v"(m1), "+v"(v0), "+v"(v1));
    _mm512_store_ps(p + i, p0), _mm512_store_ps(p + i + 16, p1);
    _mm512_store_ps(m + i, m0), _mm512_store_ps(m + i + 16, m1);
    _mm512_store_ps(v + i, v0), _mm512_store_ps(v + i + 16, v1);
    _mm512_stream_si512(reinterpret_cast<__m512i*>(out + i), gg);
  }
  _mm_sfence();
}

__attribute__((target("avx2"))) void MoveAvx2(float* p, const uint16_t* g, float* m, float* v,
                                              uint16_t* out, int64_t begin, int64_t end) {
  for (int64_t i = begin; i < end; i += 16) {
    __m256 p0 = _mm256_load_ps(p + i), p1 = _mm256_load_ps(p + i + 8);
    __m256 m0 = _mm256_load_ps(m + i), m1 = _mm256_load_ps(m + i + 8);
    __m256 v0 = _mm256_load_ps(v + i), v1 = _mm256_load_ps(v + i + 8);
    const __m256i gg = _mm256_load_si256(reinterpret_cast<const __m256i*>(g + i));
    asm("" : "+x"(p0), "+x"(p1), "+x"(m0), "+x"(m1), "+x"(v0), "+x"(v1));
    _mm256_store_ps(p + i, p0), _mm256_store_ps(p + i + 8, p1);
    _mm256_store_ps(m + i, m0), _mm256_store_ps(m + i + 8, m1);
    _mm256_store_ps(v + i, v0), _mm256_store_ps(v + i + 8, v1);
    _mm256_stream_si256(reinterpret_cast<__m256i*>(out + i), gg);
  }
  _mm_sfence();
}

void MoveScalar(float* p, const uint16_t* g, float* m, float* v, uint16_t* out, int64_t begin,
                int64_t end) {
  for (int64_t i = begin; i < end; ++i) {
    float pi = p[i], mi = m[i], vi = v[i];
    asm("" : "+x"(pi), "+x"(mi), "+x"(vi));
    p[i] = pi, m[i] = mi, v[i] = vi, out[i] = g[i];
  }
}

// Same per-thread ranges as CpuAdam (equal contiguous parts, 64-element boundaries).
void MoveAll(float* p, const uint16_t* g, float* m, float* v, uint16_t* out, int64_t n) {
  const CpuAdamIsa isa = zerod::offload::BestCpuAdamIsa();
#pragma omp parallel
  {
    const int64_t t = omp_get_thread_num(), count = omp_get_num_threads();
    const int64_t begin = n * t / count / 64 * 64;
    const int64_t end = t + 1 == count ? n : n * (t + 1) / count / 64 * 64;
    if (isa == CpuAdamIsa::kAvx512) {
      MoveAvx512(p, g, m, v, out, begin, end);
    } else if (isa == CpuAdamIsa::kAvx2) {
      MoveAvx2(p, g, m, v, out, begin, end);
    } else {
      MoveScalar(p, g, m, v, out, begin, end);
    }
  }
}

}  // namespace

int main() {
  const int64_t n = kN;
  HostArray p_mem = MustAllocate(n * 4), m_mem = MustAllocate(n * 4), v_mem = MustAllocate(n * 4);
  HostArray g32_mem = MustAllocate(n * 4), g16_mem = MustAllocate(n * 2);
  HostArray out_mem = MustAllocate(n * 2);
  float *p = p_mem.as<float>(), *m = m_mem.as<float>(), *v = v_mem.as<float>();
  float* g32 = g32_mem.as<float>();
  uint16_t *g16 = g16_mem.as<uint16_t>(), *out = out_mem.as<uint16_t>();
  // First touch by the threads that update each range (static schedule: equal
  // contiguous parts, as CpuAdam splits).
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i) {
    p[i] = 0.02f * Noise(2 * i), g32[i] = 1e-3f * Noise(2 * i + 1);
    m[i] = 0.f, v[i] = 0.f, out[i] = 0;
  }
  zerod::offload::ConvertFromFloat(g32, g16, n, DType::kBFloat16);

  const zerod::offload::AdamWHyper h{.lr = 1e-4};
  const int threads = omp_get_max_threads();
  const char* isa = zerod::offload::CpuAdamIsaName(zerod::offload::BestCpuAdamIsa());

  struct Variant {
    const char* mode;  // short label (bench/summarize.py prints it)
    DType grad_dtype;
    bool out16;
    bool in_place;
  };
  const Variant variants[] = {{"g32", DType::kFloat32, false, false},
                              {"g32+o16", DType::kFloat32, true, false},
                              {"g16+o16", DType::kBFloat16, true, false},
                              {"g16=o16", DType::kBFloat16, true, true}};
  const double ceiling_bytes_per_param = 28;  // 14 read + 14 written
  std::vector<double> ceiling_gbps_all;
  int64_t step = 0;
  for (const Variant& var : variants) {
    const void* grad = var.grad_dtype == DType::kFloat32 ? static_cast<const void*>(g32) : g16;
    void* out16 = !var.out16 ? nullptr : var.in_place ? static_cast<void*>(g16) : out;
    const auto [t, move_s] = AlternatingMedians(
        [&] {
          zerod::offload::AdamWStep(p, grad, var.grad_dtype, m, v, n, h, ++step, 1.0f, out16,
                                    DType::kBFloat16);
        },
        [&] { MoveAll(p, g16, m, v, out, n); });
    const double ceiling_gbps = n * ceiling_bytes_per_param / move_s / 1e9;
    ceiling_gbps_all.push_back(ceiling_gbps);
    const double bytes_per_param =
        24.0 + (var.grad_dtype == DType::kFloat32 ? 4 : 2) + (var.out16 ? 2 : 0);
    const double gbps = n * bytes_per_param / t / 1e9;
    std::printf(
        "{\"what\": \"zerod_cpu_adamw_Mparams_per_s\", \"mode\": \"%s\", \"grad_dtype\": "
        "\"%s\", \"out16\": \"%s\", \"threads\": %d, \"isa\": \"%s\", \"value\": %.1f, "
        "\"bytes_per_param\": %.0f, \"GBps\": %.1f, \"ceiling_GBps\": %.1f, "
        "\"bandwidth_fraction\": %.3f}\n",
        var.mode, zerod::DTypeName(var.grad_dtype),
        !var.out16     ? "none"
        : var.in_place ? "bfloat16_in_place"
                       : "bfloat16",
        threads, isa, n / t / 1e6, bytes_per_param, gbps, ceiling_gbps, gbps / ceiling_gbps);
    std::fflush(stdout);
    // In place, the copy overwrote the bf16 gradients: restore them for the next variant.
    if (var.in_place) zerod::offload::ConvertFromFloat(g32, g16, n, DType::kBFloat16);
  }
  // Speculation (Note [speculative update], zero/host_updater.h), zerod's variant (bf16
  // gradient and copy): as first built, p, m and v were copied aside (12 bytes read and 12
  // written per parameter) and then updated in place; now the update reads them and writes
  // spare arrays (AdamWStepInto), the bytes of the update alone.
  {
    HostArray sp_mem = MustAllocate(n * 4), sm_mem = MustAllocate(n * 4),
              sv_mem = MustAllocate(n * 4);
    float *sp = sp_mem.as<float>(), *sm = sm_mem.as<float>(), *sv = sv_mem.as<float>();
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i) sp[i] = 0.f, sm[i] = 0.f, sv[i] = 0.f;
    const zerod::offload::AdamWState state{p, m, v}, spare{sp, sm, sv};
    const auto [copied_s, into_s] = AlternatingMedians(
        [&] {
#pragma omp parallel for schedule(static)
          for (int64_t i = 0; i < n; ++i) sp[i] = p[i], sm[i] = m[i], sv[i] = v[i];
          zerod::offload::AdamWStep(p, g16, DType::kBFloat16, m, v, n, h, ++step, 1.0f, out,
                                    DType::kBFloat16);
        },
        [&] {
          zerod::offload::AdamWStepInto(state, spare, g16, DType::kBFloat16, n, h, ++step, 1.0f,
                                        out, DType::kBFloat16);
        });
    for (const auto& [mode, t] : {std::pair{"spec copy+update", copied_s}, {"spec into", into_s}}) {
      std::printf(
          "{\"what\": \"zerod_cpu_adamw_Mparams_per_s\", \"mode\": \"%s\", \"grad_dtype\": "
          "\"bfloat16\", \"out16\": \"bfloat16\", \"threads\": %d, \"isa\": \"%s\", "
          "\"value\": %.1f}\n",
          mode, threads, isa, n / t / 1e6);
    }
  }
  std::printf(
      "{\"what\": \"host_bandwidth_adam_pattern_GBps\", \"pattern\": \"read p,m,v fp32 + g "
      "bf16; write p,m,v fp32 + out bf16 streamed\", \"bytes_per_param\": %.0f, \"threads\": "
      "%d, \"isa\": \"%s\", \"value\": %.1f}\n",
      ceiling_bytes_per_param, threads, isa, Median(ceiling_gbps_all));
  return 0;
}
