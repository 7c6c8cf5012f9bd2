// A TensorBoard event file: TFRecord-framed Event messages (tfrecord.h), the first naming
// the format's version, each later one the scalars of one x. The protobuf code stays in
// event_file.cpp: this header is torch-free and protobuf-free, so the job (a torch
// translation unit) may include what includes it (DESIGN.md).
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/monitor/step_scalars.h"

namespace zerod::monitor {

class EventFileWriter {
 public:
  // Creates `dir` (mkdir -p) and in it a new file named as TensorBoard's writers name
  // theirs, events.out.tfevents.<unix seconds>.<hostname>.<pid>.<n> (n counts the files
  // this process opened, so two jobs in one daemon never share one), and writes the
  // version record. Errors: the directory or file cannot be created or written.
  static absl::StatusOr<std::unique_ptr<EventFileWriter>> Create(const std::string& dir);
  ~EventFileWriter();
  EventFileWriter(const EventFileWriter&) = delete;
  EventFileWriter& operator=(const EventFileWriter&) = delete;

  // Appends one Event per run of scalars with the same step, stamped `wall_time` (Unix
  // seconds), and flushes to the OS, so a TensorBoard reading the file sees the step.
  absl::Status Write(const std::vector<Scalar>& scalars, double wall_time);
  const std::string& path() const { return path_; }

 private:
  EventFileWriter(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}
  absl::Status Append(const std::string& record);

  const std::string path_;
  std::FILE* const file_;  // owned
};

// The framed records, exposed for tests: the first record of a file, and one Event of
// `values` (their steps ignored) at `step`.
std::string FileVersionRecord(double wall_time);
std::string ScalarsRecord(double wall_time, int64_t step, const std::vector<Scalar>& values);

// Seconds since the Unix epoch, with the fraction.
double WallTimeNow();

}  // namespace zerod::monitor
