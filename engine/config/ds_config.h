// The DeepSpeed JSON config (ds_zero3_offload.json) as zerod understands it: one struct
// per section, each field with its DeepSpeed key, unit and default. Parsing validates
// once. Every key DeepSpeed documents is honoured, accepted as not changing training
// (with a note when it asks for something zerod does not do), or refused with a message
// that names the key and what to use. "auto" values (Hugging Face Trainer's placeholder)
// are filled from the job as the Trainer fills them (JobValues). Unknown keys: DeepSpeed
// ignores them, so configs in the wild carry some; one that is a near-miss of a known key
// (a misspelling that would silently change training) is an error naming that key, any
// other is ignored with a note.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/config/zero_defaults.h"
#include "engine/offload/cpu_adam.h"
#include "engine/optim/loss_scaler.h"
#include "engine/optim/lr_schedule.h"
#include "engine/util/dtype.h"

namespace zerod::config {

// Where an offload section sends its state: "cpu", "none", or "auto" (zerod's placement
// plan decides, engine/plan/plan.h).
enum class OffloadDevice { kNone, kCpu, kAuto };

struct OffloadConfig {
  OffloadDevice device = OffloadDevice::kNone;  // "device"
  bool pin_memory = false;  // "pin_memory": page-locked host buffers (GPU builds)
  // offload_optimizer only: "ratio", the share of optimizer state (float32 master and both
  // moments) kept on the CPU, DeepSpeed's meaning; 1.0 by default; nullopt for "auto".
  std::optional<double> ratio = 1.0;
  bool to_cpu() const { return device == OffloadDevice::kCpu; }
};

struct ZeroConfig {
  int stage = 3;                    // "stage": only 3
  OffloadConfig offload_param;      // "offload_param"
  OffloadConfig offload_optimizer;  // "offload_optimizer"
  bool overlap_comm = true;         // "overlap_comm": collectives on side streams
  // "stage3_prefetch_bucket_size", "stage3_param_persistence_threshold",
  // "stage3_max_live_parameters": elements (zero_defaults.h says what each bounds).
  int64_t prefetch_bucket_size = kPrefetchBucketNumel;
  int64_t param_persistence_threshold = kParamPersistenceThresholdNumel;
  int64_t max_live_parameters = kMaxLiveParametersNumel;
  int64_t reduce_bucket_size = 500'000'000;        // "reduce_bucket_size", elements
  bool gather_16bit_weights_on_model_save = true;  // "stage3_gather_16bit_weights_on_model_save"
  // zerod's own key: the CPU optimizer updates units while the next step's forward runs
  // (exact: the same weights as updating them all before it). false: serial, for tests
  // and comparisons.
  bool overlap_optimizer = true;  // "zerod_overlap_optimizer"
  // Host updates made during the backward where the plan finds host memory for an exact
  // undo (Note [speculative update], zero/host_updater.h); never without overlap.
  bool speculative_update = false;  // "zerod_speculative_update" (opt-in: bench/RESULTS.md)
  // Host updates made during the backward, with nothing saved, where the step's decision
  // is known before it ends: no clipping and no fp16 overflow check (Note [early update],
  // zero/host_updater.h). Exact as it is; never without overlap or with the delayed update.
  bool early_update = true;  // "zerod_early_update"
  // "zerod_derived_weights": 16-bit shards of device-updated units made from their float32
  // masters at each gather, not kept (zero/param_group.h, Note [derived shard]).
  bool derived_weights = true;
  // "zerod_derived_host_weights": the same for host-updated units whose shard lives on the
  // host beside its master: "auto" (nullopt, the default) where the plan needs the memory
  // or finds it no slower, true always, false never (plan.h, Request::derived_host_weights).
  std::optional<bool> derived_host_weights;
  // "zerod_delayed_update": the opt-in mode that changes the math (ZeRO-Offload's delayed
  // parameter update, Note [delayed update] in zero/host_updater.h): after
  // "zerod_delayed_update_warmup_steps" exact updates, host-updated units apply each update
  // one step late, so the CPU's work overlaps the whole next forward and backward. Needs
  // the overlapped optimizer; not with the speculative update.
  bool delayed_update = false;
  int64_t delayed_update_warmup_steps = 40;
};

// "tensorboard" and "csv_monitor": DeepSpeed's monitor sections, with its defaults. Rank 0
// writes into output_path/job_name/ (a relative path is taken from its working
// directory, as DeepSpeed does); engine/monitor/ writes the files.
struct MonitorConfig {
  bool enabled = false;                       // "enabled"
  std::string output_path;                    // "output_path": "" is the working directory
  std::string job_name = "DeepSpeedJobName";  // "job_name": a directory inside output_path
  // output_path/job_name ("." when both are empty).
  std::string Dir() const;
};

struct DsConfig {
  // Batch arithmetic: train_batch_size = micro_batch_per_gpu * grad_accum * world_size.
  int64_t train_batch_size = 0;     // "train_batch_size", sequences per optimizer step
  int64_t micro_batch_per_gpu = 0;  // "train_micro_batch_size_per_gpu"
  int64_t gradient_accumulation_steps = 1;
  double gradient_clipping = 0.0;         // max global L2 norm; 0 = off
  DType compute_dtype = DType::kFloat32;  // "fp16"/"bf16" "enabled", else fp32
  optim::LossScalerConfig loss_scaler;    // from "fp16"
  offload::AdamWHyper adamw;              // "optimizer": AdamW / Adam (adam_w_mode)
  optim::LrScheduleConfig scheduler;      // "scheduler", constant lr when absent
  ZeroConfig zero;                        // "zero_optimization"
  int64_t steps_per_print = 10;           // "steps_per_print"
  MonitorConfig tensorboard;              // "tensorboard": event files
  MonitorConfig csv_monitor;              // "csv_monitor": one CSV file per scalar
  // Lines to say once (as "zerod: note: ..."): keys accepted without effect, unknown keys
  // ignored, and the "auto" values filled from the job.
  std::vector<std::string> notes;
};

// What the job says about the values a config may leave to it ("auto"): the job's flags
// where given, else Hugging Face Trainer's defaults. A config value that is not "auto"
// and disagrees with a flag given here is an error (as the Trainer refuses a mismatch).
struct JobValues {
  std::optional<int64_t> micro_batch;         // --micro-batch-size (Trainer: 8)
  std::optional<int64_t> grad_accum;          // --grad-accum (1)
  std::optional<double> lr;                   // --lr (5e-5)
  std::optional<int64_t> warmup_steps;        // --warmup-steps (0)
  std::optional<DType> precision;             // --precision bf16|fp16|fp32
  DType default_precision = DType::kFloat32;  // without --precision: bf16 on a GPU with it
  int64_t total_steps = 0;  // --steps: "auto" total_num_steps of the decaying schedules
  int64_t hidden_size = 0;  // the model's: "auto" bucket sizes (0: DeepSpeed's defaults)
};

// Parses `text` (the file's contents) for a job on `world_size` ranks. `source` names
// the file in error messages. Errors are InvalidArgument.
absl::StatusOr<DsConfig> ParseDsConfig(const std::string& text, int world_size,
                                       const std::string& source, const JobValues& job = {});

// Reads and parses the file at `path`; NotFound if it cannot be read.
absl::StatusOr<DsConfig> LoadDsConfig(const std::string& path, int world_size,
                                      const JobValues& job = {});

}  // namespace zerod::config
