// The placement plan: before anything is allocated, where each unit's 16-bit parameters,
// optimizer state (float32 master + both Adam moments) and gradient live, GPU or host,
// and the bytes each rank then holds on each, by kind. Every job runs it first and
// refuses what cannot fit; `zerod --plan` prints it.
//
// Pure arithmetic on the model's shapes: no torch, no MPI, no GPU. The engine follows the
// plan's placements exactly; the memory model (memory_model.h) mirrors what the engine
// allocates, and its activation estimate is checked against measured peaks in
// bench/RESULTS.md.
//
// "Fastest" is a fixed preference order of placements (see MakePlan), because each step
// of it removes work from the slowest resource (the CPU optimizer's memory traffic, then
// PCIe traffic). Only where activation checkpointing is the plan's to choose does a
// rough time model (step_cost.h) weigh recomputed layers against host-updated units.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/config/zero_defaults.h"
#include "engine/util/dtype.h"

namespace zerod::plan {

// Where a piece of training state lives. kDevice is the memory of the device the units
// run on: the GPU, or the host itself when training on CPU.
enum class Where { kDevice, kHost };

// A DeepSpeed offload choice: "cpu", "none", or "auto" (the plan decides).
enum class Choice { kCpu, kNone, kAuto };

// Activation checkpointing (--activation-checkpointing): no unit recomputed in backward,
// every unit, or the first decoder layers in forward order, as many as memory requires
// (MakePlan).
enum class Checkpointing { kOff, kOn, kAuto };

// One unit of the model (the embedding, a decoder block, the final norm and head).
struct UnitShape {
  std::string name;
  int64_t numel = 0;       // its own parameters
  std::vector<int> reads;  // other units gathered while it runs (tied weights)
  int layer = -1;          // the decoder layer it computes (part of); -1: embedding, head
};

// What the activation estimate needs of the architecture.
struct ActivationShape {
  int64_t layers = 0;
  int64_t hidden = 0;
  int64_t ffn = 0;       // MLP width
  int64_t q_width = 0;   // attention heads x head_dim
  int64_t kv_width = 0;  // key/value heads x head_dim
  int64_t vocab = 0;
  bool gated_mlp = true;  // Llama's gate/up/down (true) or GPT-2's fc/proj
  // What a family adds to Llama's block (models/decoder_config.h); the defaults are Llama's.
  int64_t block_norms = 2;         // RMSNorms per block (Gemma: 4, OLMo 2: 2 after)
  int64_t qk_norm_width = 0;       // channels per token the q/k norms normalise (Q + KV); 0: none
  int64_t heads = 0;               // attention heads
  bool softcap_attention = false;  // soft-capped scores: models::BlockedAttention
  int64_t window = 0;              // the window of every layer; 0: some layer attends to all keys
  // A mixture of experts (models/moe.h): `sparse_layers` of the layers have, instead of the
  // dense MLP of `ffn`, `experts` experts of `expert_ffn` of which each token uses `top_k`,
  // and a shared expert of `shared_ffn` (0: none).
  int64_t sparse_layers = 0;
  int64_t experts = 0;
  int64_t top_k = 0;
  int64_t expert_ffn = 0;
  int64_t shared_ffn = 0;
  // Units of experts after their layer's own (decoder.h), each keeping its input pack
  // (3 H + 2 top_k elements per token), summed over the layers.
  int64_t expert_units = 0;
};

struct Request {
  std::vector<UnitShape> units;  // in forward order
  ActivationShape shape;
  int world_size = 1;
  int ranks_per_host = 1;  // ranks sharing one host's memory
  int64_t micro_batch = 1;
  int64_t seq_len = 0;     // tokens per sequence: the job's (JobSpec::seq_len holds the default)
  int64_t grad_accum = 1;  // micro-steps per optimizer step: > 1 holds float32 gradients
  Checkpointing activation_checkpointing = Checkpointing::kOff;
  DType compute_dtype = DType::kBFloat16;
  DType reduce_dtype = DType::kBFloat16;  // of the reduce-scatter (float32 over MPI)
  bool gpu = true;                      // units run on a GPU; false: on the CPU, all memory is host
  int64_t gpu_bytes = 0;                // memory of one GPU (ignored without one)
  int64_t host_bytes = 0;               // memory of one host, shared by ranks_per_host ranks
  Choice offload_param = Choice::kCpu;  // offload_param.device
  std::optional<double> optimizer_ratio = 1.0;  // share of optimizer state on the host;
                                                // nullopt: "auto"
  int64_t prefetch_bucket_numel = config::kPrefetchBucketNumel;
  int64_t max_live_numel = config::kMaxLiveParametersNumel;
  int64_t persistence_threshold_numel = config::kParamPersistenceThresholdNumel;
  // Give host-updated units spare state arrays for the speculative update where host memory
  // left over by the placement allows (a job's "zerod_speculative_update", off unless
  // turned on: job_request.h); counted in host optimizer bytes.
  bool speculative_update = false;
  // 16-bit shards of device-updated units made from their masters at each gather instead
  // of kept ("zerod_derived_weights", on unless turned off: zero/param_group.h, Note
  // [derived shard]): no parameter bytes for those units.
  bool derived_weights = true;
  // The same for host-updated units whose shard lives on the host with their master
  // ("zerod_derived_host_weights"): nullopt ("auto") where the placement needs the 2 bytes
  // per element of host memory or the time model finds it no slower (the GPU uploads the
  // float32 master, twice the bytes, and rounds it); true: always; false: never. Never
  // with the delayed update, whose shards stay a step behind their masters.
  std::optional<bool> derived_host_weights;
  bool delayed_update = false;  // "zerod_delayed_update"
};

// Bytes one rank holds in one memory, by kind.
struct Bytes {
  int64_t params = 0;       // 16-bit parameter shards kept between steps
  int64_t optimizer = 0;    // float32 master + both Adam moments (+ speculation's saved copies)
  int64_t gradients = 0;    // this step's gradient shards, held until the optimizer runs
  int64_t gathered = 0;     // peak of all-gathered parameters alive at once
  int64_t activations = 0;  // activations and logits, at their peak
  int64_t buffers = 0;      // backward temporaries, transfer lanes, the runtime itself
  int64_t Total() const {
    return params + optimizer + gradients + gathered + activations + buffers;
  }
};

struct UnitPlacement {
  std::string name;
  int64_t shard_numel = 0;  // this rank's shard, padding included
  Where params = Where::kHost;
  Where optimizer = Where::kHost;
  Where gradients = Where::kDevice;
  // Host-updated units only: updated during the backward, ahead of the step's decision,
  // into spare arrays of its optimizer state, so that it can be dropped exactly (12 bytes per
  // element of host memory; Note [speculative update] in zero/host_updater.h).
  bool speculate = false;
  // Its activations are recomputed in backward (activation checkpointing) instead of kept.
  bool recompute = false;
  // Its 16-bit shard is not kept but made from the float32 master at each gather: the
  // master lives beside it (optimizer on the device with the parameters, on a CPU device,
  // or both on the host: Request::derived_host_weights) and compute is 16-bit
  // (zero/param_group.h, Note [derived shard]).
  bool derived = false;
};

struct Plan {
  std::vector<UnitPlacement> units;
  Bytes gpu;                // per rank; all zero when training on CPU
  Bytes host;               // per rank
  int64_t gpu_usable = 0;   // per rank, after the reserve for the CUDA context and fragmentation
  int64_t host_usable = 0;  // per rank: the host's share, after the reserve for the system
  double optimizer_ratio = 1.0;  // share of optimizer state elements on the host, as planned
  int speculating_units =
      0;           // host-updated units with spare state arrays (UnitPlacement::speculate)
  int layers = 0;  // decoder layers, and of them those recomputed in backward
  int recomputed_layers = 0;  // (all for Checkpointing::kOn, chosen for kAuto)
  bool fits = false;
  // When it does not fit: which memory is short, by how much, and what would make it fit.
  std::string shortfall;
  int64_t total_param_numel = 0;  // the model's parameters (unpadded)
};

// Plans `request`. InvalidArgument for input no plan can be made of (no units, a ratio
// outside [0, 1], world size < 1); a plan that does not fit is returned with fits false.
//
// Explicit choices are followed as DeepSpeed means them: offload_param "cpu" puts every
// 16-bit shard on the host, "none" on the device; a ratio r puts the optimizer state of
// the last units in forward order on the host, as close to r of the elements as whole
// units allow (the last units, because the next step's forward reaches them last: their
// CPU update has the whole forward to finish in). Gradients stay on the device where
// there is room, else (for units updated on the host) in pinned host memory.
//
// "auto" picks the fastest placement that fits, in this order of preference: fewest
// units updated on the host (the CPU optimizer is the slowest part of a step); then
// parameters resident on the device, then offloaded only for host-updated units, then
// for all; then gradients on the device, then on the host.
//
// Checkpointing::kAuto: for each placement, the fewest layers recomputed (the first in
// forward order: the last layers' backward then starts at once, and their gradients, the
// host-updated units', come first) that make it fit; of those pairs the one of the least
// estimated cost (step_cost.h: the recomputation's forward against the host update the
// next forward waits for and the uploads of host-held shards), ties to the preference
// order.
absl::StatusOr<Plan> MakePlan(const Request& request);

// Bytes from "141GiB", "128GB", "64g", "1.5TiB", "123456" (bytes). Binary and decimal
// units; case-insensitive. InvalidArgument naming `flag` otherwise.
absl::StatusOr<int64_t> ParseByteSize(const std::string& text, const std::string& flag);
// "12.3 GiB".
std::string FormatGiB(int64_t bytes);

}  // namespace zerod::plan
