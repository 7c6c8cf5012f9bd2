// CommandChannel: how rank 0's main loop tells every rank what to run next, and how the
// ranks report back. Its own MPI communicator (a duplicate of MPI_COMM_WORLD), so it
// never interleaves with a job's collectives.
//
// Idle ranks wait for the next command on a non-blocking broadcast, testing it with a
// sleep that grows to 50 ms: a command arrives within milliseconds while a job steps,
// and a daemon pool with nothing to do costs ~20 wake-ups per second, not a busy core.
// Only the thread that created it may call it (MPI_THREAD_FUNNELED; checked).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace zerod::daemon {

class CommandChannel {
 public:
  // FailedPrecondition unless MPI is initialised.
  static absl::StatusOr<std::unique_ptr<CommandChannel>> Create();
  ~CommandChannel();
  CommandChannel(const CommandChannel&) = delete;
  CommandChannel& operator=(const CommandChannel&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }

  // Rank 0: sends `bytes` to every other rank.
  absl::Status Send(const std::string& bytes);
  // Other ranks: waits (sleeping while idle) for the next Send; `bounded`: no longer than
  // the collective timeout (a command was announced to follow at once).
  absl::StatusOr<std::string> Receive(bool bounded = false);
  // Every rank contributes a string; rank 0 gets them in rank order.
  absl::StatusOr<std::vector<std::string>> GatherStrings(const std::string& mine);

 private:
  CommandChannel() = default;
  void CheckThread() const;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int rank_ = 0;
  int world_size_ = 1;
};

}  // namespace zerod::daemon
