// A training job described in YAML, so a run can be kept in a file and repeated:
//
//   model: configs/models/tiny-llama       # every key is optional; flags given beside
//   ds_config: configs/ds_zero3_offload.json  # --job override the file's values
//   data: corpus.bin
//   steps: 100
//   seq_len: 128
//
// `zerod --train --job F.yaml`. The keys are the job fields' names (job_fields.h: seq_len,
// save_dir, ...; seq-len is read as seq_len) and the shorter ones files have used (model,
// ds_config, data, resume, export_hf, tensorboard); values are spelt as on the command line.
// Values are not range-checked here
// (ValidateJobSpec is, once the flags beside the file are applied). An unknown key is refused
// naming the closest known one; a value of the wrong type names its line. Torch-free.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "engine/config/job_spec.h"

namespace zerod::config {

// Reads `path`; NotFound when it cannot be read, InvalidArgument naming the file, line and
// key otherwise.
absl::StatusOr<JobSpec> LoadJobFile(const std::string& path);
// The same over the file's text; `source` names it in errors.
absl::StatusOr<JobSpec> ParseJobFile(const std::string& text, const std::string& source);

}  // namespace zerod::config
