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
  void PrintStep(const StepMetrics& m) const;
  void PrintSummary(const MemoryStats& m) const;

 private:
  bool json_;
  bool enabled_;
  int64_t total_steps_;
};

// The block, as text (also used by the service).
std::string InitBlock(const JobInfo& info);
// One step as a JSON object on one line.
std::string StepJson(const StepMetrics& m);

}  // namespace zerod::daemon
