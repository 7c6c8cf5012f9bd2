// RankExecutor: runs one rank command (START, STEP, SAVE, ...) on this rank. Every rank
// runs the same command in lockstep; each holds its own Job for the resident job.
// Touches the engine only through engine/api.h, so no torch header meets protobuf here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/api.h"
#include "zerod.pb.h"

namespace zerod::daemon {

// This rank's result of one command.
struct RankResult {
  absl::Status status;
  StepMetrics metrics;     // STEP
  int64_t steps_done = 0;  // the job's step count after the command
};

class RankExecutor {
 public:
  // `comm` (the training communicator) must outlive the executor.
  explicit RankExecutor(comm::Communicator* comm) : comm_(comm) {}

  RankResult Run(const v1::RankCommand& command);
  // The loaded job's facts; valid while one is loaded.
  const Job* job() const { return job_.get(); }
  int64_t steps_total() const { return steps_total_; }
  // This rank's memory now, packed for CommandChannel::GatherToRoot (see UnpackMemory).
  std::vector<int64_t> PackedMemory() const;

 private:
  RankResult Start(const v1::RankCommand& command);
  RankResult Step();

  comm::Communicator* const comm_;
  std::unique_ptr<Job> job_;
  std::string job_id_;
  int64_t steps_total_ = 0;
};

// Rank r's RankMemory out of the gathered, packed vectors of every rank.
std::vector<v1::RankMemory> UnpackMemory(const std::vector<int64_t>& packed, int world_size);

// The engine's JobSpec for a validated proto spec, and step metrics for the wire.
JobSpec ToEngineSpec(const v1::JobSpec& spec);
v1::StepMetrics ToProto(const StepMetrics& m);

}  // namespace zerod::daemon
