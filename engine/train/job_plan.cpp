#include "engine/train/job_plan.h"

#ifdef ZEROD_CUDA
#include <cuda_runtime.h>
#endif

#include <cstdlib>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/api.h"
#include "engine/config/job_fields.h"
#include "engine/models/registry.h"
#include "engine/plan/host_check.h"
#include "engine/plan/plan_report.h"
#include "engine/util/cgroup_memory.h"
#include "engine/util/proc_stats.h"
#include "engine/util/status_macros.h"

namespace zerod::train {

std::vector<plan::UnitShape> UnitShapes(const models::ModelConfig& model) {
  std::vector<plan::UnitShape> shapes;
  for (const auto& unit : models::BuildUnits(model)) {
    plan::UnitShape s{unit->name(), unit->numel(), {}, unit->layer()};
    for (const models::BorrowedParam& b : unit->borrowed()) s.reads.push_back(b.owner);
    shapes.push_back(std::move(s));
  }
  return shapes;
}

int64_t GpuMemoryBytes(int index) {
#ifdef ZEROD_CUDA
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || index >= count) {
    cudaGetLastError();
    return 0;
  }
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, index) != cudaSuccess) return 0;
  return static_cast<int64_t>(prop.totalGlobalMem);
#else
  (void)index;
  return 0;
#endif
}

namespace {

// bf16 needs compute capability 8 (Ampere) or later.
bool GpuHasBf16(int index) {
#ifdef ZEROD_CUDA
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, index) != cudaSuccess) return false;
  return prop.major >= 8;
#else
  (void)index;
  return false;
#endif
}

}  // namespace

absl::StatusOr<config::JobValues> JobValuesFor(const JobSpec& spec,
                                               const models::ModelConfig& model, bool gpu,
                                               int gpu_index) {
  config::JobValues v;
  v.micro_batch = spec.micro_batch_size;
  v.grad_accum = spec.grad_accum;
  v.lr = spec.lr;
  v.warmup_steps = spec.warmup_steps;
  v.total_steps = spec.steps;
  v.hidden_size = model.hidden_size();
  v.default_precision = gpu && GpuHasBf16(gpu_index) ? DType::kBFloat16 : DType::kFloat32;
  // spec.precision: one of its field's choices (job_fields.cpp), or empty: unset.
  RETURN_IF_ERROR(config::CheckField(*config::FindJobField("precision"), spec));
  const std::string& p = spec.precision;
  if (p == "bf16") v.precision = DType::kBFloat16;
  if (p == "fp16") v.precision = DType::kFloat16;
  if (p == "fp32") v.precision = DType::kFloat32;
  return v;
}

plan::Checkpointing CheckpointingOf(const JobSpec& spec) {
  const std::string& c = spec.activation_checkpointing;
  if (c == "on" || c == "true") return plan::Checkpointing::kOn;
  if (c == "off" || c == "false") return plan::Checkpointing::kOff;
  return plan::Checkpointing::kAuto;
}

plan::JobFacts FactsFor(const JobSpec& spec, const MachineMemory& memory, int world_size,
                        int ranks_per_host, bool reduce_in_compute_dtype) {
  plan::JobFacts facts;
  facts.world_size = world_size;
  facts.ranks_per_host = ranks_per_host;
  facts.seq_len = spec.seq_len;
  facts.activation_checkpointing = CheckpointingOf(spec);
  facts.gpu = memory.gpu;
  facts.gpu_bytes = memory.gpu_bytes;
  facts.host_bytes = memory.host_bytes;
  facts.reduce_in_compute_dtype = reduce_in_compute_dtype;
  return facts;
}

absl::StatusOr<plan::Plan> PlanJob(const models::ModelConfig& model, const config::DsConfig& ds,
                                   const plan::JobFacts& facts) {
  return plan::MakePlan(plan::MakeRequest(ds, model, UnitShapes(model), facts));
}

namespace {

// "; recomputed in backward: 4 of 32 layers" (or "every unit", "none").
std::string RecomputedSummary(const plan::Plan& plan) {
  int units = 0;
  for (const plan::UnitPlacement& u : plan.units) units += u.recompute;
  if (units == static_cast<int>(plan.units.size())) return "; recomputed in backward: every unit";
  if (units == 0) return "; recomputed in backward: none";
  return absl::StrFormat("; recomputed in backward: %d of %d layers", plan.recomputed_layers,
                         plan.layers);
}

}  // namespace

std::string PlacementSummary(const plan::Plan& plan, bool gpu) {
  int params_on_device = 0, state_on_device = 0, grads_on_device = 0, host_derived = 0;
  for (const plan::UnitPlacement& u : plan.units) {
    params_on_device += u.params == plan::Where::kDevice;
    state_on_device += u.optimizer == plan::Where::kDevice;
    grads_on_device += u.gradients == plan::Where::kDevice;
    host_derived += u.derived && u.optimizer == plan::Where::kHost;
  }
  const int n = static_cast<int>(plan.units.size());
  if (!gpu) {
    return absl::StrFormat(
        "CPU training; optimizer state updated by CpuAdam: %.2f (the rest by torch's fused AdamW); "
        "planned %s per rank%s",
        plan.optimizer_ratio, plan::FormatGiB(plan.host.Total()), RecomputedSummary(plan));
  }
  // Note [derived shard] (zero/param_group.h): host units uploading their float32 master.
  const std::string derived =
      host_derived > 0
          ? absl::StrFormat(" (%d made from the float32 master at each gather)", host_derived)
          : "";
  return absl::StrFormat(
      "16-bit shards on the GPU for %d/%d units; optimizer state on the CPU: %.2f (%d/%d "
      "units%s); gradients held on the GPU for %d/%d; planned per rank: GPU %s, host %s%s",
      params_on_device, n, plan.optimizer_ratio, n - state_on_device, n, derived, grads_on_device,
      n, plan::FormatGiB(plan.gpu.Total()), plan::FormatGiB(plan.host.Total()),
      RecomputedSummary(plan));
}

}  // namespace zerod::train

namespace zerod {

namespace {

// A memory size from the environment variable `name` ("141GiB"), else `measured`.
absl::StatusOr<int64_t> MemoryFromEnv(const char* name, int64_t measured) {
  const char* value = std::getenv(name);
  if (value == nullptr || std::string(value).empty() || std::string(value) == "auto")
    return measured;
  return plan::ParseByteSize(value, name);
}

// A --gpu-memory / --host-memory flag: "auto" is `measured`.
absl::StatusOr<int64_t> MemoryFromFlag(const std::string& value, const char* flag,
                                       int64_t measured) {
  if (value == "auto") return measured;
  return plan::ParseByteSize(value, flag);
}

}  // namespace

absl::StatusOr<MachineMemory> ThisMachineMemory(std::optional<int> gpu_index) {
  MachineMemory m;
  m.gpu = gpu_index.has_value();
  ASSIGN_OR_RETURN(m.gpu_bytes, MemoryFromEnv("ZEROD_GPU_MEMORY",
                                              m.gpu ? train::GpuMemoryBytes(*gpu_index) : 0));
  ASSIGN_OR_RETURN(m.host_bytes, MemoryFromEnv("ZEROD_HOST_MEMORY", ThisHostMemory().bytes));
  return m;
}

absl::StatusOr<PlanOutcome> PlanOffline(const JobSpec& job, const PlanMachine& machine) {
  if (machine.world_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("--world-size ", machine.world_size, " < 1: plan for at least one rank"));
  }
  RETURN_IF_ERROR(config::CheckJobValues(job));
  ASSIGN_OR_RETURN(const models::ModelConfig model, models::LoadModelConfig(job.model_dir));
  RETURN_IF_ERROR(model.CheckSequenceLength(job.seq_len));
  MachineMemory memory;
  ASSIGN_OR_RETURN(memory.gpu_bytes,
                   MemoryFromFlag(machine.gpu_memory, "--gpu-memory", train::GpuMemoryBytes(0)));
  memory.gpu = memory.gpu_bytes > 0;  // auto on a machine without a GPU: a CPU plan
  // auto: the cgroup's limit where there is one (util/cgroup_memory.h).
  ASSIGN_OR_RETURN(memory.host_bytes,
                   MemoryFromFlag(machine.host_memory, "--host-memory", ThisHostMemory().bytes));
  ASSIGN_OR_RETURN(
      const int ranks_per_host,
      plan::RanksPerHost(machine.world_size, machine.hosts, machine.ranks_per_host, memory.gpu));
  ASSIGN_OR_RETURN(const config::JobValues values,
                   train::JobValuesFor(job, model, memory.gpu, /*gpu_index=*/0));
  ASSIGN_OR_RETURN(const config::DsConfig ds,
                   config::LoadDsConfig(job.ds_config_path, machine.world_size, values));
  // NCCL reduces 16-bit gradients; MPI (CPU training) reduces in float32.
  const plan::JobFacts facts = train::FactsFor(job, memory, machine.world_size, ranks_per_host,
                                               /*reduce_in_compute_dtype=*/memory.gpu);
  const plan::Request request = plan::MakeRequest(ds, model, train::UnitShapes(model), facts);
  ASSIGN_OR_RETURN(const plan::Plan p, plan::MakePlan(request));
  const plan::ReportContext context{job.model_dir, &request};
  return PlanOutcome{p.fits, plan::FormatPlanText(p, context), plan::FormatPlanJson(p, context),
                     p.shortfall};
}

}  // namespace zerod
