// The monitor of a training job: DeepSpeed's "tensorboard" and "csv_monitor" sections
// honoured. Rank 0 owns one and feeds it each step; it writes TensorBoard event files
// and/or DeepSpeed-style CSV files under the sections' output_path/job_name/.
//
// This header is torch-free and protobuf-free: the job includes it, and the protobuf code
// behind the event files lives in the zerod_monitor library alone (DESIGN.md).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "engine/api.h"
#include "engine/config/ds_config.h"
#include "engine/monitor/step_scalars.h"

namespace zerod::monitor {

class EventFileWriter;
class CsvFiles;

class Monitor {
 public:
  // Opens what the sections enable: the directories, a new event file, the CSV
  // directory; nullptr when neither is enabled. Says on stderr, once, where each writes.
  // Errors (a directory or file cannot be created) name the path, before any step runs.
  static absl::StatusOr<std::unique_ptr<Monitor>> Open(const config::MonitorConfig& tensorboard,
                                                       const config::MonitorConfig& csv,
                                                       const JobFacts& job);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  // Writes step `m`'s scalars (step_scalars.h) to every open sink and flushes them. A
  // sink that fails (a full disk) is reported once on stderr and closed; training goes
  // on: only rank 0 writes, so failing the step there would leave the ranks out of step,
  // and a lost curve is not worth a lost run.
  void Record(const StepMetrics& m);

 private:
  explicit Monitor(const JobFacts& job);

  const JobFacts job_;
  std::unique_ptr<EventFileWriter> events_;  // null once closed
  std::unique_ptr<CsvFiles> csv_;            // null once closed
};

}  // namespace zerod::monitor
