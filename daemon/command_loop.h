// The rank loop both modes run: rank 0 takes commands from the scheduler, sends each to
// every rank, runs it, gathers every rank's report and hands the outcome back to the
// scheduler; the other ranks receive and run. The service (service_loop.h) adds the gRPC
// server and the job journal around it; one-shot training (one_shot.h) submits one job
// and lets the scheduler shut the ranks down when it has ended. So starting, stepping,
// saving and exporting on success, failures and stop signals exist once, here and in the
// scheduler.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "coordinator/scheduler.h"
#include "daemon/command_channel.h"
#include "daemon/rank_executor.h"
#include "zerod.pb.h"

namespace zerod::daemon {

// One command as rank 0 sees it after every rank ran it.
struct Combined {
  absl::Status channel;  // MPI itself failed: the daemons cannot go on
  coordinator::CommandOutcome outcome;
  std::vector<v1::RankMemory> memory;  // every rank's, in rank order
  int stop_signal = 0;                 // the largest stop signal any rank received
};

// How a mode shows what the ranks did (rank 0 only): called after each command's outcome
// reached the scheduler.
class LoopObserver {
 public:
  virtual ~LoopObserver() = default;
  virtual void Completed(const v1::RankCommand& command, const Combined& combined,
                         const RankExecutor& executor) = 0;
};

// Rank 0: runs the scheduler's commands on every rank until SHUTDOWN (returns 0) or the
// ranks can no longer be reached (returns 1; `failure` says why). A stop signal that any
// rank received preempts the scheduler (Scheduler::Preempt).
int DriveRanks(coordinator::Scheduler& scheduler, RankExecutor& executor, CommandChannel& channel,
               LoopObserver& observer, std::string* failure);

// Every other rank: runs what rank 0 sends until SHUTDOWN (its exit_code: 0, or rank 0's
// refusal to start) or a failure (1).
int FollowRankZero(RankExecutor& executor, CommandChannel& channel);

// Both modes' start: opens the command channel and this rank's executor over `training`;
// rank 0 then runs `lead` (which drives the ranks, DriveRanks), the others follow it.
// Returns the rank's exit code.
int RunRanks(comm::Communicator* training,
             const std::function<int(RankExecutor&, CommandChannel&)>& lead);

// Runs `command` on every rank and gathers the reports (the other ranks' part of it);
// rank 0 gets the combined outcome.
Combined RunEverywhere(const v1::RankCommand& command, RankExecutor& executor,
                       CommandChannel& channel);

}  // namespace zerod::daemon
