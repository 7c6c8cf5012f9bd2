#include "coordinator/journal.h"

#include <google/protobuf/util/json_util.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "engine/checkpoint/output_dir.h"
#include "proto/job_state.h"

namespace zerod::coordinator {
namespace {

double UnixSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// What a job that died can be resumed from: the newest complete checkpoint in its save
// directory, read off the disk now (a periodic one, a final one, or none yet).
std::string ResumeAdvice(const std::string& save_dir) {
  if (save_dir.empty()) return "; it had no save_dir";
  const std::optional<std::string> newest = checkpoint::NewestCheckpoint(save_dir);
  if (!newest) return absl::StrCat("; it saved no complete checkpoint in ", save_dir, " yet");
  return absl::StrCat("; its newest complete checkpoint is ", *newest, ": resubmit with --resume ",
                      *newest);
}

}  // namespace

std::string JournalPath(const std::string& dir) {
  return (std::filesystem::path(dir) / "jobs.jsonl").string();
}

absl::StatusOr<std::unique_ptr<Journal>> Journal::Open(const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  const std::string path = JournalPath(dir);
  std::FILE* file = std::fopen(path.c_str(), "a");
  if (file == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("--state-dir: cannot append to ", path, "; pass a writable directory"));
  }
  return std::unique_ptr<Journal>(new Journal(path, file));
}

Journal::~Journal() {
  if (file_ != nullptr) std::fclose(file_);
}

void Journal::Record(const v1::JobStatus& status, bool durable) {
  std::string line;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  if (!google::protobuf::util::MessageToJsonString(status, &line, options).ok()) return;
  std::fputs((line + "\n").c_str(), file_);
  std::fflush(file_);
  const double now = UnixSeconds();
  if (durable || now - last_sync_ > 1.0) {
    fsync(fileno(file_));
    last_sync_ = now;
  }
}

std::vector<v1::JobStatus> ReplayJournal(const std::string& path,
                                         std::vector<std::string>* newly_interrupted) {
  std::ifstream in(path);
  std::map<std::string, v1::JobStatus> last;
  std::vector<std::string> order;
  for (std::string line; std::getline(in, line);) {
    v1::JobStatus status;
    if (!google::protobuf::util::JsonStringToMessage(line, &status).ok()) continue;
    if (!last.count(status.job_id())) order.push_back(status.job_id());
    last[status.job_id()] = status;
  }
  std::vector<v1::JobStatus> out;
  for (const std::string& id : order) {
    v1::JobStatus s = last[id];
    if (!v1::HasEnded(s.state())) {
      const std::string was = v1::JobState_Name(s.state());
      s.set_state(v1::INTERRUPTED);
      if (newly_interrupted != nullptr) newly_interrupted->push_back(s.job_id());
      s.set_reason(absl::StrCat("the daemons ended while it was ", was, " at step ", s.steps_done(),
                                " of ", s.steps_total(), ResumeAdvice(s.spec().save_dir())));
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace zerod::coordinator
