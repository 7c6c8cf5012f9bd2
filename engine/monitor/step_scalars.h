// What the monitor writes for one optimizer step: DeepSpeed's scalars under DeepSpeed's
// names (so a dashboard built for DeepSpeed runs shows zerod's) and zerod's own under
// zerod/. Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/api.h"

namespace zerod::monitor {

// One point of one curve.
struct Scalar {
  std::string tag;  // "Train/Samples/lr"
  double value = 0.0;
  int64_t step = 0;  // the x axis: samples seen (Note [x axis] in step_scalars.cpp)
};

// The job's facts the scalars need beside StepMetrics.
struct JobFacts {
  int64_t train_batch_size = 0;  // samples per optimizer step
  int64_t num_parameters = 0;    // for model TFLOP/s
  bool fp16 = false;             // loss_scale is written only with fp16, as DeepSpeed does
  bool gpu = false;              // GPU peak memory is written only on a GPU
};

// The scalars of step `m`, ordered by their x (the loss first).
std::vector<Scalar> StepScalars(const StepMetrics& m, const JobFacts& job);

}  // namespace zerod::monitor
