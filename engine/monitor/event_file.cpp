#include "engine/monitor/event_file.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/monitor/tensorboard_event.pb.h"
#include "engine/monitor/tfrecord.h"
#include "engine/util/files.h"
#include "engine/util/proc_stats.h"
#include "engine/util/status_macros.h"

namespace zerod::monitor {
namespace {

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::UnavailableError(
      absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(errno)));
}

}  // namespace

double WallTimeNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string FileVersionRecord(double wall_time) {
  tensorboard::Event event;
  event.set_wall_time(wall_time);
  event.set_file_version("brain.Event:2");  // TensorBoard reads files of version 2
  return FrameRecord(event.SerializeAsString());
}

std::string ScalarsRecord(double wall_time, int64_t step, const std::vector<Scalar>& values) {
  tensorboard::Event event;
  event.set_wall_time(wall_time);
  event.set_step(step);
  for (const Scalar& s : values) {
    tensorboard::Summary::Value* v = event.mutable_summary()->add_value();
    v->set_tag(s.tag);
    v->set_simple_value(static_cast<float>(s.value));
  }
  return FrameRecord(event.SerializeAsString());
}

absl::StatusOr<std::unique_ptr<EventFileWriter>> EventFileWriter::Create(const std::string& dir) {
  static std::atomic<int> files_opened{0};
  RETURN_IF_ERROR(MakeDirectories(dir));
  const double now = WallTimeNow();
  const std::string path =
      JoinPath(dir, absl::StrFormat("events.out.tfevents.%010d.%s.%d.%d", static_cast<int64_t>(now),
                                    HostName(), ::getpid(), files_opened++));
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) return Errno("create", path);
  std::unique_ptr<EventFileWriter> writer(new EventFileWriter(path, file));
  RETURN_IF_ERROR(writer->Append(FileVersionRecord(now)));
  return writer;
}

EventFileWriter::~EventFileWriter() { std::fclose(file_); }

absl::Status EventFileWriter::Write(const std::vector<Scalar>& scalars, double wall_time) {
  for (size_t begin = 0; begin < scalars.size();) {
    size_t end = begin + 1;
    while (end < scalars.size() && scalars[end].step == scalars[begin].step) ++end;
    const std::vector<Scalar> run(scalars.begin() + begin, scalars.begin() + end);
    RETURN_IF_ERROR(Append(ScalarsRecord(wall_time, scalars[begin].step, run)));
    begin = end;
  }
  return absl::OkStatus();
}

absl::Status EventFileWriter::Append(const std::string& record) {
  if (std::fwrite(record.data(), 1, record.size(), file_) != record.size() ||
      std::fflush(file_) != 0) {
    return Errno("write", path_);
  }
  return absl::OkStatus();
}

}  // namespace zerod::monitor
