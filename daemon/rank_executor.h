// RankExecutor: runs one rank command (START, STEP, SAVE, ...) on this rank. Every rank
// runs the same command in lockstep; each holds its own Job for the resident job.
// Touches the engine only through engine/api.h, so no torch header meets protobuf here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "engine/api.h"
#include "zerod.pb.h"

namespace zerod::daemon {

class RankExecutor {
 public:
  // `comm` (the training communicator) must outlive the executor.
  explicit RankExecutor(comm::Communicator* comm) : comm_(comm) {}

  // Runs `command` and says how it went on this rank, with this rank's memory after it
  // (and, for STEP, the step's metrics) for rank 0 to gather.
  v1::RankReport Run(const v1::RankCommand& command);
  // The loaded job; null when none is.
  const Job* job() const { return job_.get(); }

 private:
  absl::Status Start(const v1::RankCommand& command, v1::RankReport& report);
  // This rank's memory now ("cpu" or "cuda:N").
  v1::RankMemory Memory() const;

  comm::Communicator* const comm_;
  std::unique_ptr<Job> job_;
  std::string job_id_;
  std::string doing_;  // the command being run, as the activity board shows it (a stable buffer)
};

}  // namespace zerod::daemon
