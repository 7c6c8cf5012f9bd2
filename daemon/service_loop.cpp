#include "daemon/service_loop.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "coordinator/scheduler.h"
#include "daemon/command_channel.h"
#include "daemon/rank_executor.h"
#include "daemon/run_log.h"
#include "daemon/stop_signals.h"
#include "engine/checkpoint/hf_from_checkpoint.h"
#include "engine/comm/bounded_wait.h"

namespace zerod::daemon {
namespace {

using coordinator::CommandOutcome;

// One command on every rank: run it, then combine the ranks' errors and memory on
// rank 0. Each rank calls the gathers in the same order, so they always match.
struct Combined {
  absl::Status channel;  // MPI itself failed: the daemons cannot go on
  CommandOutcome outcome;
  std::vector<v1::RankMemory> memory;
  StepMetrics metrics;
};

Combined RunEverywhere(const v1::RankCommand& command, RankExecutor& executor,
                       CommandChannel& channel) {
  Combined c;
  RankResult mine = executor.Run(command);
  if (!mine.status.ok() && channel.rank() != 0) {
    std::fprintf(stderr, "zerod: rank %d: %s: %s\n", channel.rank(), command.job_id().c_str(),
                 std::string(mine.status.message()).c_str());
  }
  auto errors = channel.GatherStrings(mine.status.ok() ? "" : std::string(mine.status.message()));
  auto memory = channel.GatherToRoot(executor.PackedMemory());
  if (!errors.ok() || !memory.ok()) {
    c.channel = errors.ok() ? memory.status() : errors.status();
    return c;
  }
  if (channel.rank() != 0) return c;
  // The job's error is the first failing rank's; rank 0's is said without a prefix, as
  // agreed errors (Job::Create) are the same text on every rank.
  for (int r = 0; r < channel.world_size(); ++r) {
    const std::string& e = (*errors)[r];
    if (e.empty()) continue;
    const std::string text = r == 0 ? e : absl::StrCat("rank ", r, ": ", e);
    c.outcome.status =
        absl::Status(r == 0 ? mine.status.code() : absl::StatusCode::kInternal, text);
    break;
  }
  c.outcome.metrics = ToProto(mine.metrics);
  c.outcome.steps_done = mine.steps_done;
  c.metrics = mine.metrics;
  if (const Job* job = executor.job()) {
    c.outcome.num_parameters = job->info().num_parameters;
    c.outcome.device = job->info().device;
    c.outcome.dtype = job->info().dtype;
  }
  c.memory = UnpackMemory(*memory, channel.world_size());
  return c;
}

// What rank 0 prints about a command: the init block when a job starts, step lines, and
// every change of state (this is what lands in the Slurm log).
void Log(const v1::RankCommand& command, const Combined& c, const RankExecutor& executor,
         const std::string& launcher) {
  const std::string& id = command.job_id();
  switch (command.kind()) {
    case v1::RankCommand::START:
      if (!c.outcome.status.ok()) {
        std::printf("zerod: %s failed to start: %s\n", id.c_str(),
                    std::string(c.outcome.status.message()).c_str());
      } else {
        std::printf("zerod: %s started\n", id.c_str());
        RunLog(false, true, command.spec().steps())
            .PrintInitBlock(executor.job()->info(), launcher);
      }
      break;
    case v1::RankCommand::STEP:
      if (c.outcome.status.ok()) {
        std::printf("zerod: %s ", id.c_str());
        RunLog(false, true, executor.steps_total()).PrintStep(c.metrics);
      } else {
        std::printf("zerod: %s failed: %s\n", id.c_str(),
                    std::string(c.outcome.status.message()).c_str());
      }
      break;
    case v1::RankCommand::SAVE:
    case v1::RankCommand::EXPORT:
      std::printf("zerod: %s %s %s: %s\n", id.c_str(),
                  command.kind() == v1::RankCommand::SAVE ? "checkpoint" : "export",
                  command.dir().c_str(),
                  c.outcome.status.ok() ? "done" : std::string(c.outcome.status.message()).c_str());
      break;
    case v1::RankCommand::FINISH:
      std::printf("zerod: %s unloaded\n", id.c_str());
      break;
    default:
      break;
  }
  std::fflush(stdout);
}

int RootLoop(const coordinator::ServerOptions& options, RankExecutor& executor,
             CommandChannel& channel, const std::string& launcher) {
  coordinator::Scheduler scheduler(channel.world_size(), launcher);
  scheduler.SetCheckpointExporter(
      [](const std::string& checkpoint, const std::string& out) -> absl::StatusOr<int64_t> {
        auto summary = checkpoint::ExportCheckpointToHf(checkpoint, out);
        if (!summary.ok()) return summary.status();
        return summary->step;
      });
  absl::Status journaled;
  if (!options.state_dir.empty()) {
    auto journal = coordinator::Journal::Open(options.state_dir);
    if (journal.ok()) {
      const std::string path = (*journal)->path();
      const auto past = coordinator::ReplayJournal(path);
      scheduler.AttachJournal(std::move(journal).value(), past);
      std::printf("zerod: job journal %s (%zu earlier jobs)\n", path.c_str(), past.size());
    } else {
      journaled = journal.status();
    }
  }
  auto server = journaled.ok() ? coordinator::Server::Start(options, &scheduler)
                               : absl::StatusOr<std::unique_ptr<coordinator::Server>>(journaled);
  if (!server.ok()) {
    std::fprintf(stderr, "zerod: error: %s\n", std::string(server.status().message()).c_str());
    // The other ranks are waiting for a command: tell them to stop, with the same
    // gathers every command has.
    v1::RankCommand stop;
    stop.set_kind(v1::RankCommand::SHUTDOWN);
    if (channel.Send(stop.SerializeAsString()).ok()) (void)RunEverywhere(stop, executor, channel);
    return 1;
  }
  std::printf(
      "zerod: coordinator listening on %s (%d ranks, launched by %s); try `zeroctl --addr %s "
      "list`\n",
      (*server)->address().c_str(), channel.world_size(), launcher.c_str(),
      (*server)->address().c_str());
  std::fflush(stdout);
  // Stop signals (stop_signals.h) reach rank 0's scheduler from a watcher: the active
  // job saves and ends PREEMPTED, then the ranks shut down.
  std::atomic<bool> loop_done{false};
  std::thread watcher([&] {
    while (!loop_done.load()) {
      if (const int signal = StopSignal(); signal != 0) {
        std::fprintf(stderr,
                     "zerod: %s: the active job saves (if it has a save_dir) and the "
                     "daemons shut down\n",
                     StopSignalName(signal));
        scheduler.Preempt(StopSignalName(signal));
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  int rc = 0;
  std::string failure;  // why the loop ended early, for the jobs it leaves unfinished
  while (true) {
    const v1::RankCommand command = scheduler.Next();
    if (auto s = channel.Send(command.SerializeAsString()); !s.ok()) {
      std::fprintf(stderr, "zerod: error: %s\n", std::string(s.message()).c_str());
      rc = 1;
      break;
    }
    Combined c = RunEverywhere(command, executor, channel);
    if (!c.channel.ok()) {
      // After a timeout, the timeout itself is the reason (it names the missing rank).
      failure = comm::CollectiveTimedOut() ? comm::CollectiveTimeoutMessage()
                                           : std::string(c.channel.message());
      std::fprintf(stderr, "zerod: error: %s\n", failure.c_str());
      rc = 1;
      break;
    }
    Log(command, c, executor, launcher);
    scheduler.Complete(command, c.outcome, c.memory);
    if (command.kind() == v1::RankCommand::FINISH) {  // how the job ended, for the log
      if (auto st = scheduler.Get(command.job_id()); st.ok()) {
        std::printf("zerod: %s ended %s%s%s\n", command.job_id().c_str(),
                    v1::JobState_Name(st->state()).c_str(), st->reason().empty() ? "" : ": ",
                    st->reason().c_str());
        std::fflush(stdout);
      }
    }
    if (comm::CollectiveTimedOut()) {
      // A rank stopped answering: MPI cannot be used again, the daemons end (main aborts).
      std::fprintf(stderr, "zerod: error: a collective timed out; the daemons stop\n");
      rc = 1;
      break;
    }
    if (command.kind() == v1::RankCommand::SHUTDOWN) break;
  }
  loop_done.store(true);
  watcher.join();
  // Nothing runs any more: answer every waiting handler before the server stops.
  scheduler.Close(rc == 0           ? "the daemons shut down"
                  : failure.empty() ? "the daemons failed: see rank 0's log"
                                    : "the daemons failed: " + failure);
  (*server)->Stop();
  if (rc == 0) std::printf("zerod: shut down\n");
  return rc;
}

int WorkerLoop(RankExecutor& executor, CommandChannel& channel) {
  bool next_follows = false;  // the last command announced another at once
  while (true) {
    auto bytes = channel.Receive(next_follows);
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
    if (command.kind() == v1::RankCommand::SHUTDOWN) return 0;
    next_follows = command.next_follows();
  }
}

}  // namespace

int RunService(const coordinator::ServerOptions& options, comm::Communicator* training,
               const std::string& launcher) {
  auto channel = CommandChannel::Create();
  if (!channel.ok()) {
    std::fprintf(stderr, "zerod: error: %s\n", std::string(channel.status().message()).c_str());
    return 1;
  }
  RankExecutor executor(training);
  return (*channel)->rank() == 0 ? RootLoop(options, executor, **channel, launcher)
                                 : WorkerLoop(executor, **channel);
}

}  // namespace zerod::daemon
