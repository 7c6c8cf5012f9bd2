#include "daemon/one_shot.h"

#include <cstdio>

#include "coordinator/scheduler.h"
#include "daemon/command_loop.h"
#include "daemon/run_log.h"
#include "daemon/stop_advice.h"
#include "daemon/stop_signals.h"
#include "proto/wire.h"

namespace zerod::daemon {
namespace {

// What a one-shot run prints on rank 0: the init block, one line per step and the
// memory summary after the last, and where the checkpoint and the export went.
class OneShotLog : public LoopObserver {
 public:
  OneShotLog(const JobSpec& spec, bool json, std::string launcher)
      : log_(json, /*enabled=*/true, spec.steps), steps_(spec.steps), launcher_(launcher) {}

  void Completed(const v1::RankCommand& command, const Combined& c,
                 const RankExecutor& executor) override {
    if (c.stop_signal != 0 && stop_signal_ == 0) stop_signal_ = c.stop_signal;
    if (!c.outcome.status.ok()) return;  // the job's reason is said once, at the end
    switch (command.kind()) {
      case v1::RankCommand::START:
        log_.SetJob(executor.job()->info());
        steps_ = executor.job()->info().total_steps;
        log_.PrintInitBlock(executor.job()->info(), launcher_);
        if (!executor.job()->info().data_summary.empty())
          std::printf("%s", executor.job()->info().data_summary.c_str());
        break;
      case v1::RankCommand::STEP:
        log_.PrintStep(wire::FromProto(c.outcome.metrics));
        if (c.outcome.metrics.step() >= steps_) log_.PrintSummary(executor.job()->Memory());
        break;
      case v1::RankCommand::SAVE:
        // A save after a stop signal is said with how to continue (RunOneShot).
        if (stop_signal_ == 0) std::printf("saved a checkpoint to %s\n", command.dir().c_str());
        break;
      case v1::RankCommand::EXPORT:
        std::printf("exported Hugging Face weights to %s\n", command.dir().c_str());
        break;
      default:
        break;
    }
    std::fflush(stdout);
  }

  // The first stop signal any rank received, or 0.
  int stop_signal() const { return stop_signal_; }

 private:
  RunLog log_;
  int64_t steps_;  // the spec's, then the job's own (--epochs)
  const std::string launcher_;
  int stop_signal_ = 0;
};

// Rank 0's exit code and last words for how the job ended.
int Conclude(const JobSpec& spec, const v1::JobStatus& job, int stop_signal) {
  if (job.state() == v1::SUCCEEDED) return 0;
  if (job.state() != v1::PREEMPTED) {
    std::fprintf(stderr, "zerod: error: %s\n", job.reason().c_str());
    return 1;
  }
  const char* name = StopSignalName(stop_signal);
  const long long step = job.steps_done(), steps = spec.steps;
  if (spec.save_dir.empty()) {
    std::fprintf(stderr,
                 "zerod: stopped by %s after step %lld of %lld; nothing saved (no --save-dir)\n",
                 name, step, steps);
    return 128 + stop_signal;
  }
  std::printf(
      "zerod: stopped by %s after step %lld of %lld; saved a checkpoint to %s: continue with the "
      "same command and --resume %s\n",
      name, step, steps, spec.save_dir.c_str(), spec.save_dir.c_str());
  std::fflush(stdout);
  return 0;
}

int LeadOneShot(const JobSpec& spec, bool json_log, RankExecutor& executor, CommandChannel& channel,
                const std::string& launcher) {
  // Where Ctrl-C would not save, the first line says what does.
  if (const std::string advice = StopAdvice(launcher, spec.save_dir, MpirunPid());
      !advice.empty()) {
    std::printf("%s\n", advice.c_str());
    std::fflush(stdout);
  }
  coordinator::Scheduler scheduler(channel.world_size(), launcher);
  auto id = scheduler.Submit(wire::ToProto(spec));
  if (!id.ok()) {
    // The ranks wait for a command: the scheduler, told to stop when done, sends SHUTDOWN.
    std::fprintf(stderr, "zerod: error: %s\n", std::string(id.status().message()).c_str());
  }
  scheduler.ShutdownWhenDone();
  OneShotLog log(spec, json_log, launcher);
  std::string failure;
  if (DriveRanks(scheduler, executor, channel, log, &failure) != 0) {
    std::fprintf(stderr, "zerod: error: %s\n", failure.c_str());
    return 1;
  }
  if (!id.ok()) return 1;
  auto job = scheduler.Get(*id);
  return job.ok() ? Conclude(spec, *job, log.stop_signal()) : 1;
}

}  // namespace

int RunOneShot(const JobSpec& spec, bool json_log, comm::Communicator* training,
               const std::string& launcher) {
  return RunRanks(training, [&](RankExecutor& executor, CommandChannel& channel) {
    return LeadOneShot(spec, json_log, executor, channel, launcher);
  });
}

}  // namespace zerod::daemon
