#include "engine/plan/step_cost.h"

#include <algorithm>

namespace zerod::plan {
namespace {

// bf16 training of dense decoder layers on one H200 (bench/RESULTS.md, 2026-12-02):
// 286-345 TFLOP/s. float32 runs on TF32 tensor cores at about a quarter of it.
constexpr double kDeviceFlopsPerSecond = 3.0e14;
// The CPU's AdamW over one element of host-held state, all of a host's cores: 6.4B
// elements in 1.78 s on the H200's host (Qwen3-MoE shape, 2026-12-03). Ranks sharing a
// host share its cores and its memory bandwidth.
constexpr double kHostAdamSecondsPerElement = 1.78 / 6.4e9;
// Pinned host-to-GPU copies (../shared/device/README.md, H200 machine): 55.5 GB/s.
constexpr double kUploadBytesPerSecond = 55e9;

}  // namespace

std::vector<double> ForwardSeconds(const Request& r) {
  const ActivationShape& s = r.shape;
  const double tokens = static_cast<double>(r.micro_batch * r.seq_len);
  const double rate = kDeviceFlopsPerSecond / (r.compute_dtype == DType::kFloat32 ? 4.0 : 1.0);
  // The experts' parameters a token does not use, as a share of the layers' parameters.
  int64_t layer_numel = 0;
  for (const UnitShape& u : r.units) layer_numel += u.layer >= 0 ? u.numel : 0;
  const double idle_experts = static_cast<double>(s.sparse_layers) * 3.0 * s.hidden * s.expert_ffn *
                              std::max<int64_t>(0, s.experts - s.top_k);
  const double active_share =
      layer_numel > 0 ? std::max(0.0, 1.0 - idle_experts / static_cast<double>(layer_numel)) : 1;
  // Causal attention's scores and their use: 2 x 2 x T x q_width per token, halved.
  const double attention = 2.0 * tokens * static_cast<double>(r.seq_len) * s.q_width;
  std::vector<double> out(r.units.size(), 0.0);
  int last_layer = -1;
  for (size_t i = 0; i < r.units.size(); ++i) {
    const UnitShape& u = r.units[i];
    double flops = 0;
    if (u.layer >= 0) {
      flops = 2.0 * tokens * static_cast<double>(u.numel) * active_share;
      if (u.layer != last_layer) flops += attention;  // the layer's own unit
      last_layer = u.layer;
    } else if (i + 1 == r.units.size()) {
      flops = 2.0 * tokens * static_cast<double>(s.hidden) * s.vocab;  // the logits
    }
    out[i] = flops / rate;
  }
  return out;
}

double AddedSeconds(const Request& r, const std::vector<double>& forward,
                    const std::vector<UnitPlacement>& placement, int recomputed_layers) {
  double recompute = 0, before_host = 0, forward_total = 0, upload_bytes = 0;
  int64_t host_elements = 0;
  bool host_seen = false;  // host-updated units are the last in forward order
  for (size_t i = 0; i < placement.size(); ++i) {
    if (r.units[i].layer >= 0 && r.units[i].layer < recomputed_layers) recompute += forward[i];
    forward_total += forward[i];
    host_seen |= placement[i].optimizer == Where::kHost;
    if (host_seen) {
      host_elements += placement[i].shard_numel;
    } else {
      before_host += forward[i];
    }
    // A derived host shard goes up as its float32 master (Note [derived shard]).
    if (placement[i].params == Where::kHost) {
      upload_bytes += static_cast<double>(placement[i].shard_numel) *
                      (placement[i].derived ? 4.0 : DTypeSize(r.compute_dtype));
    }
  }
  // On a CPU device the "host" is where the units run: no update apart, no uploads.
  if (!r.gpu) return recompute;
  const double host = static_cast<double>(host_elements) * kHostAdamSecondsPerElement *
                      std::max(1, r.ranks_per_host);
  // Each pass uploads every host-held shard, prefetched under the pass's compute: the
  // forward's, and the backward's (twice the forward, plus what it recomputes).
  const double upload = upload_bytes / kUploadBytesPerSecond;
  const double uploads = std::max(0.0, upload - forward_total) +
                         std::max(0.0, upload - 2.0 * forward_total - recompute);
  return recompute + std::max(0.0, host - before_host) + uploads;
}

}  // namespace zerod::plan
