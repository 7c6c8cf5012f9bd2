// CpuAdam throughput on one large shard, the figure to set beside torch's fused CPU
// AdamW (peer_bench.py's "adam" section times 256 Mi float32 parameters the same way).
// Prints one JSON object per variant.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "engine/offload/cpu_adam.h"

int main() {
  using zerod::offload::AdamWStep;
  const int64_t n = int64_t{256} << 20;
  std::vector<float> p(n), g(n), m(n, 0.f), v(n, 0.f);
  std::vector<uint16_t> out16(n);
  std::mt19937 rng(0);
  std::normal_distribution<float> normal(0.f, 1.f);
  for (int64_t i = 0; i < n; ++i) p[i] = 0.02f * normal(rng), g[i] = 1e-3f * normal(rng);
  const zerod::offload::AdamWHyper h{.lr = 1e-4};
  for (int with16 = 0; with16 < 2; ++with16) {
    std::vector<double> times;
    for (int rep = 0; rep < 5; ++rep) {
      const auto t0 = std::chrono::steady_clock::now();
      AdamWStep(p.data(), g.data(), m.data(), v.data(), n, h, rep + 1, 1.0f,
                with16 ? out16.data() : nullptr, zerod::DType::kBFloat16);
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(times.begin() + 1, times.end());  // first run warms up
    const double t = times[1 + (times.size() - 1) / 2];
    std::printf(
        "{\"what\": \"zerod_cpu_adamw_Mparams_per_s\", \"bf16_copy\": %s, \"threads\": %d, "
        "\"value\": %.1f}\n",
        with16 ? "true" : "false", omp_get_max_threads(), n / t / 1e6);
  }
  return 0;
}
