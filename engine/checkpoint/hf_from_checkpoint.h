// A zerod checkpoint (--save-dir) written out as a Hugging Face model directory that
// transformers loads: what DeepSpeed users do with zero_to_fp32.py, without a host as
// large as the model. One unit at a time: its float32 master values are gathered from
// every rank file (any number of them), rounded to the job's compute dtype exactly as the
// engine rounds them, appended to the safetensors files (sharded above 5 GB with an
// index, as save_pretrained does) and dropped. Peak host memory is one unit's values.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace zerod::checkpoint {

struct HfExportSummary {
  int64_t parameters = 0;
  int64_t step = 0;  // the checkpoint's
  int ranks = 0;     // that wrote it
  std::string dtype;
};

// Writes `output_dir` from `checkpoint_dir`. Errors name the checkpoint file or the
// output directory; the output holds nothing new until it all succeeded (HfExportWriter).
absl::StatusOr<HfExportSummary> ExportCheckpointToHf(const std::string& checkpoint_dir,
                                                     const std::string& output_dir);

}  // namespace zerod::checkpoint
