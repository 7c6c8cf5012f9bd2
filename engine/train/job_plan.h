// The placement plan for a job (plan/plan.h), from what the engine will build: the
// model's units as BuildUnits makes them (parameters declared, no storage), the
// DeepSpeed config, and this host's and GPU's memory. Job::Create runs it before
// allocating anything; `zerod --plan` runs it with no GPU and no MPI.
#pragma once

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/config/ds_config.h"
#include "engine/models/hf_config.h"
#include "engine/plan/job_request.h"
#include "engine/plan/plan.h"

namespace zerod {
struct JobSpec;
struct MachineMemory;
}

namespace zerod::train {

// The units' sizes and tied reads, in the order the engine runs them.
std::vector<plan::UnitShape> UnitShapes(const models::ModelConfig& model);

// Total memory of GPU `index`, 0 when this build or host has none.
int64_t GpuMemoryBytes(int index);

// What a job gives for its DeepSpeed config's "auto" values: its flags, the model's hidden
// size, and the precision a job without --precision runs in (bf16 on a GPU that has it,
// float32 on the CPU). InvalidArgument for a precision that is not bf16, fp16 or fp32 (its
// field's check).
absl::StatusOr<config::JobValues> JobValuesFor(const JobSpec& spec,
                                               const models::ModelConfig& model, bool gpu,
                                               int gpu_index);

// The plan's view of a job on a machine: the one place a JobSpec and the machine's facts
// become plan::JobFacts (Job::Create and zerod --plan both call it).
// The job's --activation-checkpointing (validated: job_fields.cpp) as the plan's choice.
plan::Checkpointing CheckpointingOf(const JobSpec& spec);

plan::JobFacts FactsFor(const JobSpec& spec, const MachineMemory& memory, int world_size,
                        int ranks_per_host, bool reduce_in_compute_dtype);

absl::StatusOr<plan::Plan> PlanJob(const models::ModelConfig& model, const config::DsConfig& ds,
                                   const plan::JobFacts& facts);

// One line for the run log: how many units keep their shard on the GPU, where the
// optimizer state is, and the predicted bytes per rank.
std::string PlacementSummary(const plan::Plan& plan, bool gpu);

}  // namespace zerod::train
