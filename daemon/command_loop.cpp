#include "daemon/command_loop.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "daemon/stop_signals.h"
#include "engine/comm/bounded_wait.h"
#include "engine/comm/watchdog.h"

namespace zerod::daemon {

Combined RunEverywhere(const v1::RankCommand& command, RankExecutor& executor,
                       CommandChannel& channel) {
  Combined c;
  const v1::RankReport mine = executor.Run(command);
  // Rank 0 says the job's error; another rank says its own, unless it is START's, which
  // every rank agreed on (Job::Create).
  if (!mine.error().empty() && channel.rank() != 0 && command.kind() != v1::RankCommand::START) {
    std::fprintf(stderr, "zerod: rank %d: %s: %s\n", channel.rank(), command.job_id().c_str(),
                 mine.error().c_str());
  }
  auto reports = channel.GatherStrings(mine.SerializeAsString());
  if (!reports.ok()) {
    c.channel = reports.status();
    return c;
  }
  if (channel.rank() != 0) return c;
  for (int r = 0; r < channel.world_size(); ++r) {
    v1::RankReport report;
    if (!report.ParseFromString((*reports)[r])) {
      c.channel = absl::DataLossError(absl::StrCat("rank ", r, "'s report is unreadable"));
      return c;
    }
    // The job's error is the first failing rank's; rank 0's is said without a prefix, as
    // agreed errors (Job::Create) are the same text on every rank.
    if (!report.error().empty() && c.outcome.status.ok()) {
      c.outcome.status =
          r == 0 ? absl::Status(static_cast<absl::StatusCode>(report.error_code()), report.error())
                 : absl::InternalError(absl::StrCat("rank ", r, ": ", report.error()));
    }
    c.stop_signal = std::max(c.stop_signal, static_cast<int>(report.stop_signal()));
    c.memory.push_back(report.memory());
  }
  c.outcome.metrics = mine.metrics();
  c.outcome.steps_done = mine.steps_done();
  c.outcome.num_parameters = mine.num_parameters();
  c.outcome.total_steps = mine.total_steps();
  c.outcome.device = mine.device();
  c.outcome.dtype = mine.dtype();
  return c;
}

int DriveRanks(coordinator::Scheduler& scheduler, RankExecutor& executor, CommandChannel& channel,
               LoopObserver& observer, std::string* failure) {
  while (true) {
    const v1::RankCommand command = [&] {
      comm::IdleScope idle("waiting for the next command");  // not a stall (watchdog.h)
      return scheduler.Next();
    }();
    if (auto s = channel.Send(command.SerializeAsString()); !s.ok()) {
      *failure = std::string(s.message());
      return 1;
    }
    Combined c = RunEverywhere(command, executor, channel);
    if (!c.channel.ok()) {
      // After a timeout, the timeout itself is the reason (it names the missing rank).
      *failure = comm::CollectiveTimedOut() ? comm::CollectiveTimeoutMessage()
                                            : std::string(c.channel.message());
      return 1;
    }
    scheduler.Complete(command, c.outcome, c.memory);
    // A signal may reach only some ranks (srun, mpirun forward them): any rank's counts.
    if (c.stop_signal != 0) scheduler.Preempt(StopSignalName(c.stop_signal));
    observer.Completed(command, c, executor);
    if (comm::CollectiveTimedOut()) {
      // A rank stopped answering: MPI cannot be used again, the daemons end (main aborts).
      *failure = comm::CollectiveTimeoutMessage();
      return 1;
    }
    if (command.kind() == v1::RankCommand::SHUTDOWN) return 0;
  }
}

int RunRanks(comm::Communicator* training,
             const std::function<int(RankExecutor&, CommandChannel&)>& lead) {
  auto channel = CommandChannel::Create();
  if (!channel.ok()) {
    std::fprintf(stderr, "zerod: error: %s\n", std::string(channel.status().message()).c_str());
    return 1;
  }
  RankExecutor executor(training);
  return (*channel)->rank() == 0 ? lead(executor, **channel) : FollowRankZero(executor, **channel);
}

int FollowRankZero(RankExecutor& executor, CommandChannel& channel) {
  bool next_follows = false;  // the last command announced another at once
  while (true) {
    auto bytes = [&] {
      comm::IdleScope idle("waiting for rank 0's next command");
      return channel.Receive(next_follows);
    }();
    v1::RankCommand command;
    if (!bytes.ok() || !command.ParseFromString(*bytes)) {
      const std::string why = comm::CollectiveTimedOut() ? comm::CollectiveTimeoutMessage()
                              : bytes.ok()               ? "unreadable rank command"
                                                         : std::string(bytes.status().message());
      std::fprintf(stderr, "zerod: rank %d: error: %s\n", channel.rank(), why.c_str());
      return 1;
    }
    Combined c = RunEverywhere(command, executor, channel);
    if (!c.channel.ok() || comm::CollectiveTimedOut()) {
      // After a timeout, its own message is the one that names the missing rank.
      const std::string why = comm::CollectiveTimedOut() ? comm::CollectiveTimeoutMessage()
                                                         : std::string(c.channel.message());
      std::fprintf(stderr, "zerod: rank %d: error: %s\n", channel.rank(), why.c_str());
      return 1;
    }
    if (command.kind() == v1::RankCommand::SHUTDOWN) return command.exit_code();
    next_follows = command.next_follows();
  }
}

}  // namespace zerod::daemon
