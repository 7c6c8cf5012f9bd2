// What a training run prints on rank 0: the initialization block DeepSpeed users look
// for, one line per step (text, or one JSON object per line), and a closing summary.
#pragma once

#include <cstdint>
#include <string>

#include "engine/api.h"

namespace zerod::daemon {

class RunLog {
 public:
  // `enabled` is false on ranks other than 0: they print nothing.
  RunLog(bool json, bool enabled, int64_t total_steps)
      : json_(json), enabled_(enabled), total_steps_(total_steps) {}

  void PrintInitBlock(const JobInfo& info, const std::string& launcher) const;
  // The job's own count of steps (--epochs) and the config's steps_per_print, from START.
  void SetJob(const JobInfo& info);
  // A text line every steps_per_print steps, and for the first and the last step and any
  // step that evaluated, saved, or was skipped; JSON lines for every step.
  void PrintStep(const StepMetrics& m) const;
  bool PrintsStep(const StepMetrics& m) const;  // PrintStep prints a line for `m`
  void PrintSummary(const MemoryStats& m) const;

 private:
  bool json_;
  bool enabled_;
  int64_t total_steps_;
  int64_t steps_per_print_ = 1;
};

// The block, as text (also used by the service).
std::string InitBlock(const JobInfo& info);
// One step as a JSON object on one line.
std::string StepJson(const StepMetrics& m);

}  // namespace zerod::daemon
