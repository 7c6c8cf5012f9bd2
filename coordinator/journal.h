// The job journal: rank 0's scheduler appends every job's status to DIR/jobs.jsonl when it
// changes (one JSON object a line, fsync'd on every state change and at most once a
// second for step progress), so the job table outlives the daemons. Restarted daemons
// replay it: finished jobs keep their final state; a job that was QUEUED, RUNNING or
// PAUSED when the daemons died is INTERRUPTED, with its last step and save_dir. zeroctl
// reads the same file to tell "not running" from "crashed at step N".
//
// Threading: the scheduler calls Record under its own lock; the journal has none.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "zerod.pb.h"

namespace zerod::coordinator {

class Journal {
 public:
  // Opens (creating the directory and file) DIR/jobs.jsonl for appending. Errors name the
  // path and the fix.
  static absl::StatusOr<std::unique_ptr<Journal>> Open(const std::string& dir);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Appends `status`; `durable` (state changes) forces it to disk now.
  void Record(const v1::JobStatus& status, bool durable);
  const std::string& path() const { return path_; }

 private:
  Journal(std::string path, std::FILE* file) : path_(std::move(path)), file_(file) {}
  std::string path_;
  std::FILE* file_;
  double last_sync_ = 0;
};

// Every job the journal at `path` knows, in submission order, each with its last
// recorded status; jobs that had not ended are INTERRUPTED (reason says at which step and
// where its checkpoint is). An absent file is an empty list; unreadable lines are skipped.
// `newly_interrupted`, when given, receives the ids of the jobs this replay marked
// INTERRUPTED (those running when the daemons last died, not earlier ones).
std::vector<v1::JobStatus> ReplayJournal(const std::string& path,
                                         std::vector<std::string>* newly_interrupted = nullptr);

// DIR/jobs.jsonl.
std::string JournalPath(const std::string& dir);

}  // namespace zerod::coordinator
