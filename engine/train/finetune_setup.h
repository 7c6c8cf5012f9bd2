// What a fine-tuning job (a data_path with a .samples file: data/sample_file.h) sets up
// before its first step: its samples and evaluation set packed for the config's batch
// (data/finetune_data.h), and Hugging Face Trainer's defaults where the DeepSpeed config is
// silent. The pre-training path (a plain token file) uses none of it.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/config/ds_config.h"
#include "engine/config/job_spec.h"
#include "engine/data/finetune_data.h"

namespace zerod::train {

// Whether `spec` trains on samples (its data file has a .samples file beside it).
bool IsFinetuneJob(const JobSpec& spec);
// The fine-tuning fields given to a job on a plain token file: InvalidArgument naming the
// first (they need samples), else OK.
absl::Status CheckPretrainingSpec(const JobSpec& spec);

// Opens the samples (and eval_data), packs them for `ds`'s batch on `world_size` ranks.
absl::StatusOr<std::unique_ptr<data::FinetuneData>> OpenFinetuneData(const JobSpec& spec,
                                                                     int64_t vocab_size,
                                                                     const config::DsConfig& ds,
                                                                     int world_size);

// The Trainer's defaults where the config (its text `ds_text`) does not set them: gradient
// clipping 1.0 (max_grad_norm) without "gradient_clipping", and without a "scheduler" the
// linear schedule (warm-up `warmup_steps`, then down to 0 at `total_steps`). The learning
// rate (5e-5) and weight decay (0) without an "optimizer" section are the config parser's
// already. Returns a note per value defaulted, for the log.
std::vector<std::string> ApplyTrainerDefaults(const std::string& ds_text, int64_t total_steps,
                                              int64_t warmup_steps, config::DsConfig* ds);

}  // namespace zerod::train
