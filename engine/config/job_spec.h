// What to train: the one description of a job. The command line's flags, a YAML job file
// (job_file.h) and the SubmitJob RPC (proto/wire.h) all turn into this struct; its
// defaults are the member initialisers below and ValidateJobSpec is the one place that
// checks it. Torch-free: zeroctl and the coordinator use it without the engine.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace zerod {

struct JobSpec {
  std::string model_dir;              // Hugging Face model directory (config.json), or a Hub id
  std::string ds_config_path;         // DeepSpeed JSON config file, or:
  std::string ds_config_json;         // the config's text inline (exactly one of the two)
  std::string data_path;              // token file
  std::string data_dtype = "uint16";  // its token width: uint16 or uint32
  int64_t steps = 10;                 // optimizer steps in all (a resumed job counts the old ones)
  int64_t seq_len = 128;              // tokens per training sequence
  uint64_t seed = 1234;               // weight init (without weights) and data order
  // Where the weights come from: "auto" loads the model directory's safetensors, or
  // initialises from `seed` when it holds no weights at all (a config-only directory);
  // "random" initialises from `seed` whatever it holds (training from scratch). A
  // directory whose weights zerod cannot read is refused under "auto".
  std::string init = "auto";
  // Activation checkpointing: "auto" recomputes in backward the first decoder layers, as
  // many as memory requires (the plan chooses: plan.h); "on" every unit; "off" none.
  // "true" and "false" are on and off.
  std::string activation_checkpointing = "auto";
  std::string resume_from;  // checkpoint directory (Job::SaveCheckpoint) to continue from
  // What the job gives for a DeepSpeed config's "auto" values, as Hugging Face Trainer's
  // flags do (config::JobValues); unset: the Trainer's defaults.
  std::optional<int64_t> micro_batch_size;  // --micro-batch-size
  std::optional<int64_t> grad_accum;        // --grad-accum
  std::optional<double> lr;                 // --lr
  std::optional<int64_t> warmup_steps;      // --warmup-steps
  std::string precision;  // --precision: "bf16", "fp16", "fp32"; empty: bf16 on a GPU, else fp32
  // Checkpoints: when the job succeeds (or is stopped by a signal) into save_dir; while
  // training every `save_every` steps (0: never) into save_dir/step_NNNNNNNN, keeping the
  // newest `keep_checkpoints` of those.
  std::string save_dir;
  int64_t save_every = 0;
  int64_t keep_checkpoints = 2;
  std::string export_hf_dir;  // when it succeeds, the weights for transformers go here
  // TensorBoard event files of this job go here, as the DeepSpeed config's tensorboard
  // section would put them (which it then overrides); empty: as the config says.
  std::string tensorboard_dir;
  // Fine-tuning data (a data_path with a .samples file beside it, data/sample_file.h):
  // passes over the samples (unset: `steps` says how long, the data cycling through as many
  // epochs as it takes; set: epochs * steps per epoch steps, whatever `steps` says); the
  // evaluation set, a prepared file of its own (eval_data) or a seeded share of the samples
  // held out (eval_split), scored every eval_every steps (0: only after the last step);
  // samples packed several to a row ("on") or one per row ("off"); samples over
  // seq_len + 1 tokens cut ("truncate") or left out ("drop"); save_best keeps the
  // checkpoint of the lowest evaluation loss in save_dir.
  std::optional<int64_t> epochs;
  std::string eval_data;
  std::optional<double> eval_split;
  int64_t eval_every = 0;
  std::string packing = "on";
  std::string long_samples = "truncate";
  bool save_best = false;
  // The service's own: a label for `zeroctl list`, and PAUSED after setup (advanced with
  // `zeroctl step`) instead of running.
  std::string name;
  bool start_paused = false;
};

namespace config {

inline constexpr int64_t kMaxSteps = 1'000'000'000;
inline constexpr int64_t kMaxSeqLen = 1 << 20;
inline constexpr size_t kMaxPathBytes = 4096;
inline constexpr size_t kMaxInlineConfigBytes = 1 << 20;
inline constexpr size_t kMaxNameBytes = 256;

// Checks `spec` as every entry point needs it: the paths exist and are readable (a Hub id
// in model_dir is replaced by its snapshot directory in the local Hugging Face cache),
// exactly one DeepSpeed config, counts in range, output directories usable. The error is
// InvalidArgument starting with the field's name ("data_path: ..."), then what to fix.
// What only the ranks can judge (the DeepSpeed config's arithmetic, the model's
// config.json) is Job::Create's. Idempotent.
//
// The outputs, save_dir and export_hf_dir, may replace only what zerod wrote: a target
// that holds anything else, or that is or holds the model directory, the data file or one
// of `daemon_dirs` (the daemons' --state-dir), is refused here, before the job trains
// (engine/checkpoint/output_dir.h). resume_from may name a save directory: it becomes the
// newest complete checkpoint in it (itself or a periodic step_NNNNNNNN).
absl::Status ValidateJobSpec(JobSpec* spec, const std::vector<std::string>& daemon_dirs = {});

// A target of SaveCheckpoint / ExportHf of a loaded job (`spec`): the same checks as
// save_dir / export_hf_dir above. `field` names it in the error.
absl::Status ValidateSaveDir(const std::string& field, const std::string& dir, const JobSpec& spec,
                             const std::vector<std::string>& daemon_dirs);
absl::Status ValidateExportDir(const std::string& field, const std::string& dir,
                               const JobSpec& spec, const std::vector<std::string>& daemon_dirs);

// A directory to write into: absent, or a directory. `field` names it in the error.
absl::Status ValidateOutputDir(const std::string& field, const std::string& dir);

}  // namespace config
}  // namespace zerod
