// The engine's torch-free face: plain structs for job specs, step results and memory
// stats, and the Job handle. The daemon, the coordinator, the CLI and proto/'s wire
// conversion compile beside protobuf's generated code, so they include this header and
// the few torch-free engine headers listed below, and nothing else of the engine: torch
// headers never meet protobuf's (DESIGN.md). tests/tools/include_check.sh reads the list,
// and fails the build and CTest when a file there includes another engine header or a
// listed header reaches <torch/...>, <ATen/...>, <c10/...> or <cuda...>.
//
//   include-allowed: engine/api.h                          jobs, plans, evaluations
//   include-allowed: engine/config/job_spec.h              JobSpec and its validation
//   include-allowed: engine/config/job_fields.h            the one table of a job's fields
//   include-allowed: engine/config/job_flags.h             a job's flags (CLI11), from it
//   include-allowed: engine/config/job_file.h              YAML job files
//   include-allowed: engine/config/yaml_struct.h           YAML files read into structs
//   include-allowed: engine/comm/communicator.h            the Communicator interface
//   include-allowed: engine/comm/mpi_communicator.h        the rank's MPI world
//   include-allowed: engine/comm/mpi_status.h              MPI_RETURN_IF_ERROR
//   include-allowed: engine/comm/bounded_wait.h            collectives with a timeout
//   include-allowed: engine/comm/launch_env.h              rank and size from the launcher
//   include-allowed: engine/comm/gpu_communicator.h        NCCL, behind a factory
//   include-allowed: engine/comm/gpu_select.h              which GPU a rank uses (pure)
//   include-allowed: engine/comm/watchdog.h                progress marks, the stall watchdog
//   include-allowed: engine/checkpoint/hf_from_checkpoint.h  a checkpoint exported as HF
//   include-allowed: engine/checkpoint/output_dir.h        what a save may replace; newest ckpt
//   include-allowed: engine/data/prepare.h                 zerod --prepare-data
//   include-allowed: engine/data/dataset_prep.h            --prepare-data of fine-tuning data
//   include-allowed: engine/data/record_reader.h           which files are datasets
//   include-allowed: engine/models/model_dir.h             model directories, hub names
//   include-allowed: engine/util/files.h                   paths, directories, whole files
//   include-allowed: engine/util/proc_stats.h              resident set, host memory
//   include-allowed: engine/util/value_type.h              T of a member that may be optional<T>
//   include-allowed: engine/util/status_macros.h           RETURN_IF_ERROR, ASSIGN_OR_RETURN
//   include-allowed: engine/util/check.h                   ZEROD_CHECK
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "engine/config/job_spec.h"  // JobSpec: what to train

namespace zerod {
namespace comm {
class Communicator;
}

// One optimizer step, as logged.
struct StepMetrics {
  int64_t step = 0;   // 1-based
  double loss = 0.0;  // mean over the whole global batch
  // A mixture of experts: the routers' load-balancing loss (transformers' aux_loss, before
  // router_aux_loss_coef), mean over the micro-batches; part of `loss` times the
  // coefficient when config.json sets output_router_logits. NaN for a dense model.
  double router_aux_loss = std::numeric_limits<double>::quiet_NaN();
  double lr = 0.0;          // rate used by this step
  double grad_norm = 0.0;   // global norm before clipping (0 when skipped)
  double loss_scale = 1.0;  // fp16 loss scale used for this step (1 otherwise)
  bool skipped = false;     // fp16 overflow: no update
  double step_seconds = 0.0;
  double tokens_per_s = 0.0;   // global batch tokens / step time
  int64_t gpu_peak_bytes = 0;  // most GPU memory allocated so far (0 on CPU)
  // Where the step's time went (host clock): forward up to the loss (including waits for
  // the previous step's CPU updates, optimizer_wait_seconds); backward until every
  // gradient shard is held; the optimizer's part of the step proper (norm, clipping,
  // device updates queued, host updates launched).
  double forward_seconds = 0.0;
  double backward_seconds = 0.0;
  double optimizer_seconds = 0.0;
  // The optimizer work that finished during this step (host updates overlap the next
  // step's forward, so this is mostly the previous step's): CpuAdam time on the worker,
  // device AdamW time (GPU clock), the worker waiting for gradients to come down, and the
  // forward waiting for host updates to land (the part of the CPU work not hidden).
  double optimizer_cpu_seconds = 0.0;
  double optimizer_gpu_seconds = 0.0;
  double transfer_wait_seconds = 0.0;
  double optimizer_wait_seconds = 0.0;
  // Host updates made during the backward, ahead of the step's decision, that finished
  // during this step; how many of them were undone (the decision differed: clipping,
  // fp16 overflow) and what undoing and redoing cost (Note [speculative update]).
  int64_t speculated_units = 0;
  int64_t undone_units = 0;
  double undo_seconds = 0.0;
  // The opt-in delayed update ("zerod_delayed_update"; Note [delayed update] in
  // engine/zero/host_updater.h): host units whose update of this step is applied a step
  // late, and the backward's wait for the last step's late updates to finish.
  int64_t delayed_units = 0;
  double gradient_wait_seconds = 0.0;
  // A mixture of experts: (sparse layer, expert) pairs no token of the step's global batch
  // chose (Note [unused experts] in engine/zero/zero_engine.h); 0 for a dense model.
  int64_t unused_experts = 0;
  int64_t host_rss_bytes = 0;       // this rank's resident set after the step
  int64_t host_peak_rss_bytes = 0;  // and its peak so far
  // A periodic save after this step (JobSpec::save_every): the directory written, or why
  // it failed (the job goes on; its previous checkpoints stay as they were).
  std::string saved_checkpoint;
  std::string checkpoint_error;
  // Fine-tuning data (a sample file): the labels `loss` is the mean over, over the whole
  // global batch (transformers' num_items_in_batch); 0 for pre-training windows, where
  // every position is one. A step whose global batch has none is skipped (no update, the
  // schedule does not advance) with no_labels set and loss 0.
  int64_t label_tokens = 0;
  bool no_labels = false;
  // An evaluation after this step (eval_tokens > 0): sum of the per-label losses over the
  // evaluation set / eval_tokens, and exp of it.
  double eval_loss = 0.0;
  double eval_perplexity = 0.0;
  int64_t eval_tokens = 0;
};

// Bytes one rank holds; shard sizes are what it keeps between steps.
struct MemoryStats {
  int64_t param_shard_bytes = 0;      // compute-dtype parameter shards
  int64_t grad_shard_bytes = 0;       // gradient shards held for the step (and lanes)
  int64_t optimizer_shard_bytes = 0;  // float32 master + both Adam moments (+ transfer lanes)
  // Of the three above, what lives on the GPU (the rest is host memory).
  int64_t param_gpu_bytes = 0;
  int64_t grad_gpu_bytes = 0;
  int64_t optimizer_gpu_bytes = 0;
  int64_t gathered_bytes = 0;       // gathered parameters alive now
  int64_t peak_gathered_bytes = 0;  // most gathered parameters alive at once
  int64_t total_param_numel = 0;    // parameters of the whole model (unpadded)
  int64_t pinned_host_bytes = 0;    // page-locked host memory held by the engine's pool
  int64_t pageable_host_bytes = 0;  // the same pool when not pinned (CPU builds)
  int64_t gpu_allocated_bytes = 0;  // CUDA caching allocator; 0 on CPU
  int64_t gpu_reserved_bytes = 0;
  int64_t gpu_peak_bytes = 0;
  int64_t rss_bytes = 0;  // process resident set
};

// The setup facts a run prints in its initialization block.
struct JobInfo {
  int zero_stage = 3;
  bool offload_param = false;
  bool offload_optimizer = false;
  int rank = 0;
  int world_size = 1;
  std::string device;  // "cpu", "cuda:0"
  std::string dtype;   // "float32", "bfloat16", "float16"
  int64_t num_parameters = 0;
  int64_t train_batch_size = 0;
  int64_t micro_batch_per_gpu = 0;
  int64_t gradient_accumulation_steps = 0;
  int64_t steps_per_print = 10;
  // The steps the job runs in all: --steps, or --epochs times the steps per epoch of its
  // samples.
  int64_t total_steps = 0;
  // Fine-tuning: the data's summary as Hugging Face Trainer prints it (samples, epochs,
  // steps, truncated and dropped samples), several lines; empty for pre-training.
  std::string data_summary;
  std::string placement;          // the plan's placement in one line (job_plan.h)
  int64_t planned_gpu_bytes = 0;  // the plan's predicted peak per rank
  int64_t planned_host_bytes = 0;
  // Where the weights came from: "loaded 291 tensors from DIR (2 safetensors files)",
  // "initialised from seed 1234: DIR holds no weights", "resumed from CKPT at step 40".
  std::string weights;
};

// The memory a job plans for on its rank, a fact of the machine rather than of the job: one
// GPU's and one host's (shared by the ranks on it).
struct MachineMemory {
  bool gpu = false;        // the rank trains on a GPU
  int64_t gpu_bytes = 0;   // that GPU's memory
  int64_t host_bytes = 0;  // the host's
};

// This rank's: GPU `gpu_index`'s memory (none when nullopt) and the host's, each replaced by
// the environment's ZEROD_GPU_MEMORY / ZEROD_HOST_MEMORY when set ("100GiB"; "auto": the
// measured one), so a user or a test can plan for less than the machine has.
// InvalidArgument naming the variable when one cannot be read.
absl::StatusOr<MachineMemory> ThisMachineMemory(std::optional<int> gpu_index);

// A training job on this rank. Every rank creates and steps its own, in lockstep.
class Job {
 public:
  // Validates the spec (model, config, data) on every rank and agrees on the outcome:
  // if any rank fails, all return the same error. `memory` is what the placement plan may
  // use on this rank. `comm` must outlive the job.
  static absl::StatusOr<std::unique_ptr<Job>> Create(const JobSpec& spec, comm::Communicator* comm,
                                                     const MachineMemory& memory);
  // The same on ThisMachineMemory (the rank's GPU under NCCL).
  static absl::StatusOr<std::unique_ptr<Job>> Create(const JobSpec& spec, comm::Communicator* comm);
  virtual ~Job() = default;

  // Runs one optimizer step (all micro-steps). Errors leave the job failed: later
  // calls return the same error.
  virtual absl::StatusOr<StepMetrics> Step() = 0;
  virtual int64_t steps_done() const = 0;
  virtual const JobInfo& info() const = 0;
  virtual MemoryStats Memory() const = 0;
  // Writes the current weights (compute dtype) as a Hugging Face directory: config.json
  // and safetensors, loadable by transformers' from_pretrained. All ranks call it; rank
  // 0 writes.
  virtual absl::Status ExportHf(const std::string& dir) = 0;
  // Writes a sharded checkpoint (each rank its own shards and optimizer state, rank 0
  // the metadata) that JobSpec::resume_from continues from exactly. All ranks call it.
  // Atomic: the files go to a temporary directory renamed over `dir` at the end, so a
  // failure mid-save leaves the previous checkpoint in `dir` intact.
  virtual absl::Status SaveCheckpoint(const std::string& dir) = 0;
};

// The machine `zerod --plan` plans a job for (its own flags; the job is a JobSpec, its
// model_dir, ds_config_path, seq_len, activation_checkpointing and the fields that fill a
// config's "auto" values): no GPU and no MPI needed (engine/plan/plan.h).
struct PlanMachine {
  int world_size = 1;
  int ranks_per_host = 0;            // ranks sharing one host's memory; 0: from `hosts`, else
                                     // plan/host_check.h's RanksPerHost (8 per GPU host)
  int hosts = 0;                     // hosts the world is spread over (0: not said)
  std::string gpu_memory = "auto";   // one GPU's memory ("141GiB"); auto: this machine's
                                     // GPU, none when it has none (a CPU plan)
  std::string host_memory = "auto";  // one host's memory; auto: this machine's
};

struct PlanOutcome {
  bool fits = false;
  std::string text;       // the plan as a table (plan_report.h)
  std::string json;       // the same as one JSON object
  std::string shortfall;  // when it does not fit: what is short and what would fit
};

// Plans `job` on `machine`. Errors: the model directory or DeepSpeed config cannot be read
// or is invalid, a memory size cannot be parsed (each naming the flag or file). A plan that
// does not fit is an outcome, not an error.
absl::StatusOr<PlanOutcome> PlanOffline(const JobSpec& job, const PlanMachine& machine);

// What to evaluate: `zerod --eval`. The mean next-token loss over consecutive
// non-overlapping windows of seq_len + 1 tokens from the start of the data file (window
// i is tokens [i * (seq_len + 1), (i + 1) * (seq_len + 1)): the first seq_len are the
// inputs, the last seq_len the targets).
//
// The job's fields say what is evaluated: model_dir (safetensors, else the seed's init),
// ds_config_path (optional: compute dtype, offload, batch), data_path, data_dtype, seq_len,
// seed; the others are not read.
struct EvalSpec : JobSpec {
  // Batches to score; 0 scores every whole window of the file. A batch is
  // train_batch_size windows with a config (the training global batch: the same windows
  // at any world size), else one window per rank. Each rank runs forwards of
  // train_micro_batch_size_per_gpu windows (1 without a config).
  int64_t batches = 0;
};

// The evaluation's outcome, the same on every rank and at any world size.
struct EvalResult {
  double loss = 0.0;        // mean cross-entropy per target token (nats)
  double perplexity = 0.0;  // exp(loss)
  int64_t tokens = 0;       // target tokens scored
  int64_t windows = 0;      // windows scored
};

// Loads the model as training does, ZeRO-3 sharded for forward only (no gradient or
// optimizer state), and scores the spec's windows spread over the ranks; losses are
// summed per token and all-reduced. All ranks call it; bad input (missing model, data
// shorter than one window, token ids beyond the vocabulary, more batches than the file
// holds) returns the same error on every rank before any forward. `comm` is only
// borrowed.
absl::StatusOr<EvalResult> Evaluate(const EvalSpec& spec, comm::Communicator* comm);

}  // namespace zerod
