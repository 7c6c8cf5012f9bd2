#include "daemon/service_loop.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "coordinator/exposure.h"
#include "coordinator/journal.h"
#include "coordinator/scheduler.h"
#include "coordinator/service.h"
#include "coordinator/state_lock.h"
#include "daemon/command_loop.h"
#include "daemon/run_log.h"
#include "daemon/stop_signals.h"
#include "engine/checkpoint/hf_from_checkpoint.h"
#include "engine/comm/bounded_wait.h"
#include "proto/wire.h"

namespace zerod::daemon {
namespace {

// What rank 0 prints about a command: the init block when a job starts, step lines, and
// every change of state (this is what lands in the Slurm log).
class ServiceLog : public LoopObserver {
 public:
  ServiceLog(const coordinator::Scheduler& scheduler, std::string launcher)
      : scheduler_(scheduler), launcher_(std::move(launcher)) {}

  void Completed(const v1::RankCommand& command, const Combined& c,
                 const RankExecutor& executor) override {
    const std::string& id = command.job_id();
    const auto status = scheduler_.Get(id);
    const int64_t steps_total = status.ok() ? status->steps_total() : 0;
    switch (command.kind()) {
      case v1::RankCommand::START:
        if (!c.outcome.status.ok()) {
          std::printf("zerod: %s failed to start: %s\n", id.c_str(),
                      std::string(c.outcome.status.message()).c_str());
        } else {
          std::printf("zerod: %s started\n", id.c_str());
          RunLog(false, true, steps_total).PrintInitBlock(executor.job()->info(), launcher_);
          std::printf("%s", executor.job()->info().data_summary.c_str());
        }
        break;
      case v1::RankCommand::STEP:
        if (c.outcome.status.ok()) {
          // Every step, whatever steps_per_print says: the service's log is what an operator
          // follows a job by (`zeroctl watch` too); the one-shot run's lines honour it.
          RunLog log(false, true, steps_total);
          const StepMetrics m = wire::FromProto(c.outcome.metrics);
          if (log.PrintsStep(m)) {
            std::printf("zerod: %s ", id.c_str());
            log.PrintStep(m);
          }
        } else {
          std::printf("zerod: %s failed: %s\n", id.c_str(),
                      std::string(c.outcome.status.message()).c_str());
        }
        break;
      case v1::RankCommand::SAVE:
      case v1::RankCommand::EXPORT:
        std::printf(
            "zerod: %s %s %s: %s\n", id.c_str(),
            command.kind() == v1::RankCommand::SAVE ? "checkpoint" : "export",
            command.dir().c_str(),
            c.outcome.status.ok() ? "done" : std::string(c.outcome.status.message()).c_str());
        break;
      case v1::RankCommand::FINISH:
        std::printf("zerod: %s unloaded\n", id.c_str());
        if (status.ok()) {  // how the job ended
          std::printf("zerod: %s ended %s%s%s\n", id.c_str(),
                      v1::JobState_Name(status->state()).c_str(),
                      status->reason().empty() ? "" : ": ", status->reason().c_str());
        }
        break;
      default:
        break;
    }
    std::fflush(stdout);
  }

 private:
  const coordinator::Scheduler& scheduler_;
  const std::string launcher_;
};

// Rank 0 cannot start the service: it says why, and tells the other ranks (waiting for a
// command, with the same gathers every command has) to exit 1 as well.
int RefuseToStart(const absl::Status& why, RankExecutor& executor, CommandChannel& channel) {
  std::fprintf(stderr, "zerod: error: %s\n", std::string(why.message()).c_str());
  v1::RankCommand stop;
  stop.set_kind(v1::RankCommand::SHUTDOWN);
  stop.set_exit_code(1);
  if (channel.Send(stop.SerializeAsString()).ok()) (void)RunEverywhere(stop, executor, channel);
  return 1;
}

// --state-dir: locked first, so a second daemon set is refused before it reads or writes
// the journal (state_lock.h); then the journal's earlier jobs go to the scheduler.
absl::StatusOr<std::unique_ptr<coordinator::StateDirLock>> OpenStateDir(
    const coordinator::ServerOptions& options, coordinator::Scheduler& scheduler) {
  auto lock = coordinator::StateDirLock::Acquire(options.state_dir, options.listen);
  if (!lock.ok()) return lock.status();
  auto journal = coordinator::Journal::Open(options.state_dir);
  if (!journal.ok()) return journal.status();
  const std::string path = (*journal)->path();
  const auto past = coordinator::ReplayJournal(path);
  scheduler.AttachJournal(std::move(journal).value(), past);
  std::printf("zerod: job journal %s (%zu earlier jobs)\n", path.c_str(), past.size());
  return lock;
}

int RootLoop(const coordinator::ServerOptions& options, RankExecutor& executor,
             CommandChannel& channel, const std::string& launcher) {
  // What the addresses expose is settled before anything is opened or bound.
  const auto exposure = coordinator::CheckExposure(options);
  if (!exposure.ok()) return RefuseToStart(exposure.status(), executor, channel);
  std::unique_ptr<coordinator::StateDirLock> state_lock;  // outlives the scheduler's journal
  coordinator::Scheduler scheduler(channel.world_size(), launcher);
  scheduler.PutEachJobsTensorboardInItsOwnDir();
  scheduler.SetCheckpointExporter(
      [](const std::string& checkpoint, const std::string& out) -> absl::StatusOr<int64_t> {
        auto summary = checkpoint::ExportCheckpointToHf(checkpoint, out);
        if (!summary.ok()) return summary.status();
        return summary->step;
      });
  if (!options.state_dir.empty()) {
    auto lock = OpenStateDir(options, scheduler);
    if (!lock.ok()) return RefuseToStart(lock.status(), executor, channel);
    state_lock = std::move(lock).value();
  }
  auto server = coordinator::Server::Start(options, &scheduler);
  if (!server.ok()) return RefuseToStart(server.status(), executor, channel);
  if (state_lock != nullptr) {
    if (auto s = state_lock->SetAddress((*server)->address()); !s.ok()) {
      std::fprintf(stderr, "zerod: warning: %s\n", std::string(s.message()).c_str());
    }
  }
  std::printf(
      "zerod: coordinator listening on %s (%d ranks, launched by %s); try `zeroctl --addr %s "
      "list`\n",
      (*server)->address().c_str(), channel.world_size(), launcher.c_str(),
      (*server)->address().c_str());
  if (const std::string metrics = (*server)->metrics_address(); !metrics.empty()) {
    std::printf("zerod: Prometheus metrics on http://%s/metrics\n", metrics.c_str());
  }
  std::fflush(stdout);
  for (const std::string& warning : *exposure) {
    std::fprintf(stderr, "zerod: WARNING: %s\n", warning.c_str());
  }
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
  ServiceLog log(scheduler, launcher);
  std::string failure;  // why the loop ended early, for the jobs it leaves unfinished
  const int rc = DriveRanks(scheduler, executor, channel, log, &failure);
  if (rc != 0) std::fprintf(stderr, "zerod: error: %s\n", failure.c_str());
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

}  // namespace

int RunService(const coordinator::ServerOptions& options, comm::Communicator* training,
               const std::string& launcher) {
  return RunRanks(training, [&](RankExecutor& executor, CommandChannel& channel) {
    return RootLoop(options, executor, channel, launcher);
  });
}

}  // namespace zerod::daemon
