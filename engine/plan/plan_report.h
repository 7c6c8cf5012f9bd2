// A plan as people and scripts read it: `zerod --plan` prints one of these, and every
// job's refusal quotes the shortfall. Torch-free.
#pragma once

#include <string>

#include "engine/plan/plan.h"

namespace zerod::plan {

// What the report says about the run besides the plan itself.
struct ReportContext {
  std::string model;  // "meta-llama/Llama-2-13b-hf" or the directory
  const Request* request = nullptr;
};

// A table per rank (all ranks hold the same: shards are equal) of GPU and host bytes by
// kind, the placement by runs of units, and the verdict.
std::string FormatPlanText(const Plan& plan, const ReportContext& context);

// One JSON object: fits, optimizer_ratio, activation_checkpointing ("off", "on", "auto"),
// layers and recomputed_layers, gpu/host usable bytes, ranks [{rank, gpu_bytes,
// host_bytes, gpu: {kind: bytes}, host: {...}}], units [{name, shard_numel, params,
// optimizer, gradients, speculate, recompute}], shortfall.
std::string FormatPlanJson(const Plan& plan, const ReportContext& context);

}  // namespace zerod::plan
