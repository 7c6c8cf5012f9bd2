// The plan's memory model: the bytes a rank holds for a given placement, kind by kind,
// mirroring what the engine allocates (zero_engine.cpp, grad_stream.cpp,
// shard_optimizer.cpp). Pure arithmetic; plan.cpp searches placements with it.
//
// Figures that are estimates rather than sums of allocations (activations, the runtime's
// own memory, the reserves) are named constants here, each with where it comes from.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/plan/plan.h"

namespace zerod::plan {

// GPU memory the plan leaves unused: the CUDA context and NCCL's buffers live outside
// the caching allocator, and the allocator itself fragments (a few percent at these sizes).
int64_t GpuReserveBytes(int64_t gpu_bytes);
// Host memory the plan leaves to the system (kernel, page cache, other processes).
int64_t HostReserveBytes(int64_t host_bytes);

// Peak bytes of activations and logits of one micro-batch on one rank (see the .cpp for
// the tensors counted), with the first `recomputed_layers` decoder layers checkpointed.
int64_t ActivationBytes(const Request& request, int64_t recomputed_layers);
// The same for the request's own checkpointing: every layer (kOn) or none (kOff, kAuto).
int64_t ActivationBytes(const Request& request);

// Peak bytes of gathered parameters, by replaying the engine's fetch, prefetch and release
// order over one forward and one backward. `padded_numel[u]` is unit u's gathered size.
int64_t GatheredPeakBytes(const Request& request, const std::vector<int64_t>& padded_numel);

// Fills plan.gpu and plan.host from plan.units' placements (shards already set).
void AccountBytes(const Request& request, int64_t gathered_peak, int64_t activations, Plan& plan);

}  // namespace zerod::plan
