// A rough model of a step's time, used only to weigh the choices activation checkpointing
// leaves to the plan (Checkpointing::kAuto, plan.h): recomputing a layer costs one forward
// of it on the device; a unit updated on the host costs the part of the CPU's update that
// the next forward waits for, the update's time past the forward of the units before the
// first host-updated one (which run while the CPU works); 16-bit shards kept on the host
// cost their uploads (every gather, forward and backward) past the compute of the pass
// they are prefetched under. Torch-free arithmetic.
//
// The rates are figures measured on one H200 and its host (bench/RESULTS.md): dense
// decoder layers at 286-345 TFLOP/s in bf16, the CPU's AdamW at 6.4B elements in 1.78 s,
// pinned uploads at 55 GB/s.
// Other machines scale both alike, which leaves the choice about the same; only the
// order of candidates matters here, never the value.
#pragma once

#include <vector>

#include "engine/plan/plan.h"

namespace zerod::plan {

// Seconds of one forward of each unit of `request` on its device: its active parameters
// (a sparse layer's experts by top_k of experts), its attention's scores, the head's
// logits; the embedding's lookup costs nothing.
std::vector<double> ForwardSeconds(const Request& request);

// The seconds `placement` (its units' shards and where their state lives), with the
// first `recomputed_layers` decoder layers recomputed in backward, adds to a step.
// `forward`: ForwardSeconds(request).
double AddedSeconds(const Request& request, const std::vector<double>& forward,
                    const std::vector<UnitPlacement>& placement, int recomputed_layers);

}  // namespace zerod::plan
