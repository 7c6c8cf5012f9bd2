#include "engine/plan/memory_model.h"

#include <algorithm>
#include <set>

#include "engine/models/chunking.h"

namespace zerod::plan {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr int64_t kMiB = int64_t{1} << 20;

// cuBLAS workspaces, NCCL's device buffers that go through the caching allocator, RoPE
// tables: a fixed allowance.
constexpr int64_t kGpuWorkspaceBytes = 512 * kMiB;
// The host memory a rank's process holds before any training state: LibTorch and the
// CUDA libraries' code and data, the CUDA context's host side, MPI. Read off `zeroctl
// memory` for a tiny model: about 2.5 GiB with CUDA, 0.5 GiB on CPU.
constexpr int64_t kRuntimeHostBytesGpu = 5 * kGiB / 2;
constexpr int64_t kRuntimeHostBytesCpu = kGiB / 2;

int64_t SizeOf(DType d) { return static_cast<int64_t>(DTypeSize(d)); }

}  // namespace

int64_t GpuReserveBytes(int64_t gpu_bytes) { return 3 * kGiB / 2 + gpu_bytes * 3 / 100; }

int64_t HostReserveBytes(int64_t host_bytes) { return 2 * kGiB + host_bytes * 6 / 100; }

// The tensors autograd keeps, per micro-batch of S = micro_batch x seq_len tokens, with
// b bytes per compute element (H hidden, Q/KV attention widths, F MLP width, V vocab):
//   a decoder layer run with grad: each RMSNorm keeps its float32 input, the normalised
//   value and its output (4 + 2b per token and channel; two per block, Gemma's four);
//   the q/k norms the same over their channels (Qwen3, Gemma 3: Q + KV; OLMo 2 too); the
//   layer's input (b); attention keeps q, k, v, its output and the re-laid output for
//   o_proj (b x (3Q + 2KV)); soft-capped attention (BlockedAttention) keeps k and v
//   repeated to every query head and a float32 log-sum-exp per head (b x 2(Q - KV) +
//   4 x heads more); the gated MLP keeps gate, act(gate), up and their product (4bF;
//   GPT-2's MLP 3bF). Flash attention's windows add nothing (its memory is linear in T).
//   with activation checkpointing a layer keeps only its input (bH); one layer at a time
//   is recomputed, and autograd frees its tensors as its backward goes, so about half
//   of a layer's set is alive at once (measured, see below).
//   soft-capped attention's working set, one layer at a time: one query block's scores
//   and their softmax, gradient and tanh in float32 (4 x 4 bytes per score), the block
//   sized by models::AttentionQueryBlock over the keys a block sees (the window's).
//   the head: its norm's tensors, then the logits a chunk of vocabulary columns at a
//   time (models::LogitChunkColumns; the chunk in the model dtype and float32, and its
//   exponentials: b + 8 per token and column), and the float32 gradient of its input.
//   a sparse (mixture-of-experts) layer's MLP instead keeps, per token: the router's
//   logits and their float32 softmaxes (E x (b + 8)); the k rows sorted by expert, the
//   experts' outputs and their weighted copy (3 k b H) and the experts' gate, act, up and
//   product (4 k b F_e), the pair indices (k x 24); the shared expert as a gated MLP
//   (4 b F_s). On the GPU the experts run as grouped GEMMs over a stacked copy of the
//   layer's expert weights (3 E H F_e b, the grouped-GEMM workspace): transient in a
//   checkpointed forward, alive through the layer's backward, and kept by autograd for
//   every sparse layer without checkpointing. A layer whose experts are split into units
//   (decoder.h) has each further unit keep its input pack, 3H + 2k elements per token in
//   the model dtype (float32 for Mixtral's float32 routing weights: counted as b here).
// The peak is at the start of backward (every layer's activations and the head)
// without checkpointing; with it, the larger of the head's and a recomputed layer's
// working set, over all the checkpointed inputs. With the first `recomputed` layers
// checkpointed and the rest not, the larger of the two: the kept layers' sets with the
// head at the start of backward, and a recomputed layer's once the kept ones are freed
// (their backward comes first). Sparse layers are taken as spread evenly among the
// layers (true of every family's configs but Qwen2/3-MoE's mlp_only_layers lists).
// Checked on one H200 (bench/RESULTS.md, 2026-11-30, before the head was chunked): with
// the engine's other terms the GPU peak came within +2% to +6% of the measured one for
// 0.94B without checkpointing and 6.74B with it.
int64_t ActivationBytes(const Request& r, int64_t recomputed) {
  const ActivationShape& s = r.shape;
  const int64_t b = SizeOf(r.compute_dtype);
  const int64_t S = r.micro_batch * r.seq_len;
  int64_t attention = b * (3 * s.q_width + 2 * s.kv_width) + (4 + 2 * b) * s.qk_norm_width;
  int64_t attention_work = 0;  // one layer's transient scores
  if (s.softcap_attention) {
    attention += 2 * b * (s.q_width - s.kv_width) + 4 * s.heads;
    const int64_t rows = r.micro_batch * s.heads;
    const int64_t block = models::AttentionQueryBlock(rows, r.seq_len, s.window);
    attention_work = rows * block * models::AttentionBlockKeys(block, r.seq_len, s.window) * 4 * 4;
  }
  const int64_t layer_base = S * ((s.block_norms * (4 + 2 * b) + b) * s.hidden + attention);
  const int64_t layer_full = layer_base + S * (s.gated_mlp ? 4 : 3) * b * s.ffn;
  const int64_t sparse_full =
      layer_base +
      S * (s.experts * (b + 8) + s.top_k * (3 * b * s.hidden + 4 * b * s.expert_ffn + 24) +
           4 * b * s.shared_ffn);
  // The grouped GEMMs' stacked weights: a layer's experts, or one unit's of them.
  const int64_t workspace = r.gpu ? 3 * s.experts * s.hidden * s.expert_ffn * b : 0;
  const int64_t units_per_layer =
      s.sparse_layers > 0 ? 1 + (s.expert_units + s.sparse_layers - 1) / s.sparse_layers : 1;
  const int64_t unit_workspace = (workspace + units_per_layer - 1) / units_per_layer;
  const int64_t dense_layers = s.layers - s.sparse_layers;
  const int64_t packs = s.expert_units * S * b * (3 * s.hidden + 2 * s.top_k);
  const int64_t columns = models::LogitChunkColumns(S, s.vocab);
  const int64_t head = S * s.hidden * (4 + 2 * b) + S * columns * (b + 8) + S * s.hidden * 4;
  recomputed = std::clamp<int64_t>(recomputed, 0, s.layers);
  const int64_t kept = s.layers - recomputed;
  const int64_t kept_sparse = s.layers > 0 ? s.sparse_layers * kept / s.layers : 0;
  const int64_t kept_sets =
      (kept - kept_sparse) * layer_full + kept_sparse * (sparse_full + workspace);
  const int64_t at_head = kept > 0 ? kept_sets + S * s.hidden * b + head + attention_work : head;
  int64_t at_recompute = 0;
  if (recomputed > 0) {
    int64_t layer = dense_layers > 0 ? layer_full / 2 : 0;
    if (s.sparse_layers > 0) layer = std::max(layer, sparse_full / 2 + unit_workspace);
    at_recompute = layer + attention_work;
  }
  return recomputed * S * s.hidden * b + packs + std::max(at_head, at_recompute);
}

int64_t ActivationBytes(const Request& r) {
  return ActivationBytes(
      r, r.activation_checkpointing == Checkpointing::kOn ? r.shape.layers : int64_t{0});
}

// Replays ZeroEngine::FetchForRun / Prefetch / AfterForward / AfterBackward.
int64_t GatheredPeakBytes(const Request& r, const std::vector<int64_t>& padded) {
  const int n = static_cast<int>(r.units.size());
  std::set<int> live;
  int64_t peak = 0;
  auto live_numel = [&] {
    int64_t sum = 0;
    for (int u : live) sum += padded[u];
    return sum;
  };
  auto uses = [&](int k) {
    std::vector<int> u{k};
    for (int j : r.units[k].reads) u.push_back(j);
    return u;
  };
  auto run = [&](int k, int direction) {
    for (int u : uses(k)) live.insert(u);
    int64_t bucket = 0;
    int64_t total = live_numel();
    for (int j = k + direction; j >= 0 && j < n; j += direction) {
      if (live.count(j)) continue;
      if (bucket + padded[j] > r.prefetch_bucket_numel || total + padded[j] > r.max_live_numel)
        break;
      live.insert(j);
      bucket += padded[j];
      total += padded[j];
    }
    peak = std::max(peak, total);
  };
  for (int k = 0; k < n; ++k) {
    run(k, +1);
    for (int u : uses(k)) {
      if (r.units[u].numel > r.persistence_threshold_numel) live.erase(u);
    }
  }
  for (int k = n - 1; k >= 0; --k) {
    run(k, -1);
    for (int u : uses(k)) live.erase(u);
  }
  return peak * SizeOf(r.compute_dtype);
}

void AccountBytes(const Request& r, int64_t gathered_peak, int64_t activations, Plan& plan) {
  const int64_t cb = SizeOf(r.compute_dtype);
  const int64_t rb = SizeOf(r.reduce_dtype);
  const int64_t gb = r.grad_accum > 1 ? 4 : rb;  // held gradient element
  Bytes dev, host;
  int64_t largest_backward = 0;  // one unit's backward temporaries
  int64_t largest_device_opt = 0, largest_host_opt_lane = 0, largest_host_grad = 0;
  int64_t largest_host_derived = 0;
  for (size_t i = 0; i < plan.units.size(); ++i) {
    const UnitPlacement& u = plan.units[i];
    const int64_t s = u.shard_numel;
    // Note [derived shard]: a derived shard is made at each gather, not kept.
    if (!u.derived) (u.params == Where::kDevice ? dev : host).params += s * cb;
    // float32: the shard is the master where both live together (or on a CPU device).
    const bool shard_is_master =
        r.compute_dtype == DType::kFloat32 && (u.params == u.optimizer || !r.gpu);
    (u.optimizer == Where::kDevice ? dev : host).optimizer += s * (shard_is_master ? 8 : 12);
    (u.gradients == Where::kDevice ? dev : host).gradients += s * gb;
    // Autograd's gradients of the unit's parameters and the flat buffer they are copied
    // into for the reduce-scatter.
    largest_backward = std::max(largest_backward, r.units[i].numel * cb + s * r.world_size * rb);
    if (u.optimizer == Where::kDevice) {
      largest_device_opt = std::max(largest_device_opt, s);
    } else if (u.gradients == Where::kDevice || u.params == Where::kDevice) {
      largest_host_opt_lane = std::max(largest_host_opt_lane, s);
    }
    if (u.gradients == Where::kHost) largest_host_grad = std::max(largest_host_grad, s);
    if (u.derived && u.optimizer == Where::kHost)
      largest_host_derived = std::max(largest_host_derived, s);
  }
  dev.gathered = gathered_peak;
  dev.activations = activations;
  dev.buffers = largest_backward;
  if (r.gpu) {
    dev.buffers += kGpuWorkspaceBytes;
    // The device optimizer updates from a float32 copy of the (scaled) gradient.
    if (gb != 4) dev.buffers += largest_device_opt * 4;
    // A derived host shard's float32 master lands on the GPU before it is rounded: one
    // staging copy at a time, kept by the copy-in stream's allocator (Note [derived shard]).
    dev.buffers += largest_host_derived * 4;
    // Two transfer lanes (gradient down, 16-bit weights up) per host-updated unit in flight.
    host.buffers += 2 * largest_host_opt_lane * (gb + cb);
    // Micro-batches after the first land in a float32 staging buffer before being added.
    if (r.grad_accum > 1) host.buffers += largest_host_grad * 4;
    host.buffers += kRuntimeHostBytesGpu;
    plan.gpu = dev;
    plan.host = host;
    return;
  }
  // Training on the CPU: the device is the host.
  host.buffers += kRuntimeHostBytesCpu;
  plan.gpu = {};
  plan.host = {.params = dev.params + host.params,
               .optimizer = dev.optimizer + host.optimizer,
               .gradients = dev.gradients + host.gradients,
               .gathered = dev.gathered,
               .activations = dev.activations,
               .buffers = dev.buffers + host.buffers};
}

}  // namespace zerod::plan
