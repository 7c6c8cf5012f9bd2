// One daemon set per state directory: rank 0 holds an exclusive flock(2) on DIR/zerod.lock
// for the daemons' life, and the file names the holder (its PID, host and coordinator
// address). Two sets on one --state-dir would number their jobs alike (both make a job-3)
// and one history would be lost after a restart; the second is refused before it reads or
// writes the journal, with an error that names the first.
//
// The kernel releases the lock when the holder's process ends, however it ends (kill -9
// too), so a lock file left behind never blocks the next start; the file stays (removing
// it would race with a new holder) and the next holder rewrites it. flock is advisory: it
// keeps out other zerods, not other programs. On NFS, Linux turns flock into a
// whole-file fcntl lock, which the server arbitrates between hosts.
//
// Not thread-safe; rank 0's service loop owns it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace zerod::coordinator {

// Who holds a state directory, as its lock file says.
struct StateDirHolder {
  int64_t pid = 0;      // rank 0's process
  std::string host;     // HostName() (engine/util/proc_stats.h)
  std::string address;  // the coordinator's HOST:PORT (the --listen asked for, until bound)
  std::string since;    // when it took the lock, UTC ("2026-12-02 10:00:00 UTC")
};

class StateDirLock {
 public:
  // Creates DIR when missing (mode 0700: the journal names every job's paths), takes the
  // lock without waiting and writes this process as the holder with `address`.
  // FailedPrecondition when another process holds it, naming that holder and the fix;
  // PermissionDenied naming the path when the file cannot be opened.
  static absl::StatusOr<std::unique_ptr<StateDirLock>> Acquire(const std::string& dir,
                                                               const std::string& address);
  // Releases the lock (closing the file).
  ~StateDirLock();
  StateDirLock(const StateDirLock&) = delete;
  StateDirLock& operator=(const StateDirLock&) = delete;

  // Rewrites the holder's address (once the server has bound its port).
  absl::Status SetAddress(const std::string& address);
  const std::string& path() const { return path_; }

 private:
  StateDirLock(std::string path, int fd, StateDirHolder holder)
      : path_(std::move(path)), fd_(fd), holder_(std::move(holder)) {}
  absl::Status WriteHolder();

  const std::string path_;
  const int fd_;  // open and flock'ed for the object's life
  StateDirHolder holder_;
};

// DIR/zerod.lock.
std::string StateLockPath(const std::string& dir);

}  // namespace zerod::coordinator
