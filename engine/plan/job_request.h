// From a job's inputs (its DeepSpeed config, the model's config.json, where it runs) to
// the plan's Request. Torch-free: the units' sizes come from the caller, which builds the
// model's units (engine/train/job_plan.h) so the plan and the engine count the same.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/config/ds_config.h"
#include "engine/models/hf_config.h"
#include "engine/plan/plan.h"

namespace zerod::plan {

// Where and how the job runs.
struct JobFacts {
  int world_size = 1;
  int ranks_per_host = 1;
  int64_t seq_len = 0;  // the job's (JobSpec::seq_len, whose default it is)
  Checkpointing activation_checkpointing = Checkpointing::kOff;
  bool gpu = false;
  int64_t gpu_bytes = 0;                // one GPU's memory
  int64_t host_bytes = 0;               // one host's memory
  bool reduce_in_compute_dtype = true;  // NCCL reduces 16-bit; MPI reduces in float32
};

// The activation estimate's view of the architecture.
ActivationShape ShapeOf(const models::ModelConfig& model);

Request MakeRequest(const config::DsConfig& ds, const models::ModelConfig& model,
                    std::vector<UnitShape> units, const JobFacts& facts);

}  // namespace zerod::plan
