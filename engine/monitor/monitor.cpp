#include "engine/monitor/monitor.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "engine/monitor/csv_files.h"
#include "engine/monitor/event_file.h"

namespace zerod::monitor {

Monitor::Monitor(const JobFacts& job) : job_(job) {}
Monitor::~Monitor() = default;

absl::StatusOr<std::unique_ptr<Monitor>> Monitor::Open(const config::MonitorConfig& tensorboard,
                                                       const config::MonitorConfig& csv,
                                                       const JobFacts& job) {
  if (!tensorboard.enabled && !csv.enabled) return nullptr;
  std::unique_ptr<Monitor> monitor(new Monitor(job));
  // Errors name the section, so the user knows which output_path to fix.
  auto in = [](const char* section, const absl::Status& s) {
    return absl::Status(s.code(), absl::StrCat(section, ": ", s.message()));
  };
  if (tensorboard.enabled) {
    auto events = EventFileWriter::Create(tensorboard.Dir());
    if (!events.ok()) return in("tensorboard", events.status());
    monitor->events_ = std::move(events).value();
    std::fprintf(stderr, "zerod: tensorboard: writing %s\n", monitor->events_->path().c_str());
  }
  if (csv.enabled) {
    auto files = CsvFiles::Create(csv.Dir());
    if (!files.ok()) return in("csv_monitor", files.status());
    monitor->csv_ = std::move(files).value();
    std::fprintf(stderr, "zerod: csv_monitor: writing %s/*.csv\n", csv.Dir().c_str());
  }
  return monitor;
}

void Monitor::Record(const StepMetrics& m) {
  const std::vector<Scalar> scalars = StepScalars(m, job_);
  if (events_ != nullptr) {
    if (absl::Status s = events_->Write(scalars, WallTimeNow()); !s.ok()) {
      std::fprintf(stderr, "zerod: warning: tensorboard: %s; no more events are written\n",
                   std::string(s.message()).c_str());
      events_.reset();
    }
  }
  if (csv_ != nullptr) {
    if (absl::Status s = csv_->Write(scalars); !s.ok()) {
      std::fprintf(stderr, "zerod: warning: csv_monitor: %s; no more rows are written\n",
                   std::string(s.message()).c_str());
      csv_.reset();
    }
  }
}

}  // namespace zerod::monitor
