// The scheduler without MPI: the test plays the rank loop, asking Next() for commands
// and completing them, while other threads play the gRPC handlers.
#include "coordinator/scheduler.h"

#include <gtest/gtest.h>

#include <future>
#include <optional>
#include <thread>

namespace zerod::coordinator {
namespace {

using Kind = v1::RankCommand::Kind;

CommandOutcome Failed(absl::Status s) {
  CommandOutcome out;
  out.status = std::move(s);
  return out;
}

v1::JobSpec Spec(int64_t steps, bool paused = false) {
  v1::JobSpec s;
  s.set_model_dir("/m");
  s.set_steps(steps);
  s.set_start_paused(paused);
  return s;
}

class SchedulerTest : public ::testing::Test {
 protected:
  // Runs the next command as if every rank succeeded (STEP gives loss 1/step).
  v1::RankCommand RunNext() {
    v1::RankCommand c = scheduler_.Next();
    CommandOutcome out;
    if (c.kind() == v1::RankCommand::STEP) {
      const int64_t step = scheduler_.Get(c.job_id())->steps_done() + 1;
      out.metrics.set_step(step);
      out.metrics.set_loss(1.0 / step);
    }
    scheduler_.Complete(c, out, {});
    return c;
  }
  Scheduler scheduler_{2, "test"};
};

// Health flags a step that runs far past the job's recent ones (here: a 0.2 s floor).
TEST(SchedulerStallTest, HealthReportsAStepRunningFarPastTheRecentMedian) {
  Scheduler scheduler(2, "test", /*stall_floor_s=*/0.2);
  const std::string id = *scheduler.Submit(Spec(100));
  for (int i = 0; i < 5; ++i) {
    v1::RankCommand c = scheduler.Next();
    CommandOutcome out;
    if (c.kind() == v1::RankCommand::STEP) {
      out.metrics.set_step(scheduler.Get(id)->steps_done() + 1);
      out.metrics.set_step_seconds(0.01);
    }
    scheduler.Complete(c, out, {});
  }
  const v1::RankCommand step = scheduler.Next();  // in flight, never completed
  ASSERT_EQ(step.kind(), v1::RankCommand::STEP);
  EXPECT_TRUE(scheduler.Health().stalled().empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const std::string stalled = scheduler.Health().stalled();
  EXPECT_NE(stalled.find(id + " step 4 has run"), std::string::npos) << stalled;
  scheduler.Complete(step, {}, {});
  EXPECT_TRUE(scheduler.Health().stalled().empty());
}

TEST_F(SchedulerTest, RunsQueuedJobsOneAtATimeInOrderToSucceeded) {
  const std::string a = *scheduler_.Submit(Spec(2));
  const std::string b = *scheduler_.Submit(Spec(1));
  EXPECT_EQ(RunNext().kind(), v1::RankCommand::MEMORY);  // the first snapshot
  v1::RankCommand start = RunNext();
  EXPECT_EQ(start.kind(), v1::RankCommand::START);
  EXPECT_EQ(start.job_id(), a);
  EXPECT_EQ(scheduler_.Get(a)->state(), v1::RUNNING);
  EXPECT_EQ(scheduler_.Get(b)->state(), v1::QUEUED);
  EXPECT_EQ(RunNext().kind(), v1::RankCommand::STEP);
  EXPECT_EQ(RunNext().kind(), v1::RankCommand::STEP);
  // a is done; b waits, so a is unloaded before b starts.
  v1::RankCommand finish = RunNext();
  EXPECT_EQ(finish.kind(), v1::RankCommand::FINISH);
  EXPECT_EQ(scheduler_.Get(a)->state(), v1::SUCCEEDED);
  EXPECT_EQ(scheduler_.Get(a)->steps_done(), 2);
  EXPECT_EQ(RunNext().job_id(), b);
}

TEST_F(SchedulerTest, AFailedStartFailsTheJobWithItsReasonAndTheNextStarts) {
  const std::string bad = *scheduler_.Submit(Spec(1));
  const std::string good = *scheduler_.Submit(Spec(1));
  RunNext();  // MEMORY
  v1::RankCommand start = scheduler_.Next();
  scheduler_.Complete(start, Failed(absl::InvalidArgumentError("ds.json: no_such_key")), {});
  EXPECT_EQ(scheduler_.Get(bad)->state(), v1::FAILED);
  EXPECT_EQ(scheduler_.Get(bad)->reason(), "ds.json: no_such_key");
  v1::RankCommand next = RunNext();
  EXPECT_EQ(next.kind(), v1::RankCommand::START);
  EXPECT_EQ(next.job_id(), good);
}

TEST_F(SchedulerTest, PausedJobRunsExactlyTheStepsAskedFor) {
  const std::string id = *scheduler_.Submit(Spec(10, /*paused=*/true));
  RunNext();  // MEMORY
  RunNext();  // START
  EXPECT_EQ(scheduler_.Get(id)->state(), v1::PAUSED);
  auto reply = std::async(std::launch::async, [&] { return scheduler_.StepPaused(id, 3); });
  for (int i = 0; i < 3; ++i) EXPECT_EQ(RunNext().kind(), v1::RankCommand::STEP);
  auto r = reply.get();
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->steps_size(), 3);
  EXPECT_EQ(r->steps(2).step(), 3);
  EXPECT_EQ(r->status().state(), v1::PAUSED);
  // Nothing more to do until someone asks: Next would block. Cancel gives it work.
  ASSERT_TRUE(scheduler_.Cancel(id).ok());
  EXPECT_EQ(RunNext().kind(), v1::RankCommand::FINISH);
  EXPECT_EQ(scheduler_.Get(id)->state(), v1::CANCELLED);
}

TEST_F(SchedulerTest, StepJobIsRefusedForAJobNotSubmittedPaused) {
  const std::string id = *scheduler_.Submit(Spec(5));
  EXPECT_EQ(scheduler_.StepPaused(id, 1).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(scheduler_.StepPaused("job-99", 1).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(SchedulerTest, CancellingAQueuedJobEndsItAtOnce) {
  const std::string id = *scheduler_.Submit(Spec(5));
  auto status = scheduler_.Cancel(id);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state(), v1::CANCELLED);
  EXPECT_EQ(scheduler_.Cancel(id).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(SchedulerTest, AFailedStepFailsTheJobAndUnloadsIt) {
  const std::string id = *scheduler_.Submit(Spec(5));
  RunNext();  // MEMORY
  RunNext();  // START
  v1::RankCommand step = scheduler_.Next();
  scheduler_.Complete(step, Failed(absl::InternalError("loss is nan at step 1")), {});
  EXPECT_EQ(scheduler_.Get(id)->state(), v1::FAILED);
  EXPECT_EQ(RunNext().kind(), v1::RankCommand::FINISH);
}

TEST_F(SchedulerTest, SaveAndExportRunOnTheResidentJobOnly) {
  const std::string id = *scheduler_.Submit(Spec(1));
  EXPECT_EQ(scheduler_.Save(id, "/ckpt").status().code(), absl::StatusCode::kFailedPrecondition);
  RunNext();  // MEMORY
  RunNext();  // START
  RunNext();  // STEP: the job succeeds and stays loaded
  auto saved = std::async(std::launch::async, [&] { return scheduler_.Save(id, "/ckpt"); });
  v1::RankCommand save = scheduler_.Next();
  EXPECT_EQ(save.kind(), v1::RankCommand::SAVE);
  EXPECT_EQ(save.dir(), "/ckpt");
  CommandOutcome out;
  out.steps_done = 1;
  scheduler_.Complete(save, out, {});
  ASSERT_TRUE(saved.get().ok());
  EXPECT_EQ(scheduler_.Get(id)->state(), v1::SUCCEEDED);
}

v1::JobSpec SavingSpec(int64_t steps, const std::string& save_dir) {
  v1::JobSpec s = Spec(steps);
  s.set_save_dir(save_dir);
  return s;
}

// The next command, or nothing when Next() still blocks after 200 ms (the thread then
// hands its command to `pending`, for the test to complete later).
std::optional<v1::RankCommand> NextWithin200ms(Scheduler& scheduler,
                                               std::future<v1::RankCommand>& pending) {
  pending = std::async(std::launch::async, [&] { return scheduler.Next(); });
  if (pending.wait_for(std::chrono::milliseconds(200)) != std::future_status::ready) {
    return std::nullopt;
  }
  return pending.get();
}

// The probe: the final save into a full disk failed, and the job was unloaded,
// so its trained steps could be saved nowhere.
TEST_F(SchedulerTest, AFailedFinalSaveKeepsTheJobLoadedUntilItIsSavedElsewhere) {
  const std::string a = *scheduler_.Submit(SavingSpec(1, "/full/ck"));
  const std::string b = *scheduler_.Submit(Spec(1));
  RunNext();  // MEMORY
  RunNext();  // START a
  RunNext();  // STEP
  v1::RankCommand save = scheduler_.Next();
  ASSERT_EQ(save.kind(), v1::RankCommand::SAVE);
  EXPECT_EQ(save.dir(), "/full/ck");
  scheduler_.Complete(save, Failed(absl::ResourceExhaustedError("No space left on device")), {});
  const v1::JobStatus failed = *scheduler_.Get(a);
  EXPECT_EQ(failed.state(), v1::SAVE_FAILED);
  EXPECT_NE(failed.reason().find("saving to /full/ck failed: No space left on device"),
            std::string::npos)
      << failed.reason();
  EXPECT_NE(failed.reason().find("stays loaded: save it elsewhere with `zeroctl checkpoint " + a),
            std::string::npos)
      << failed.reason();
  // The queued job waits: the ranks have nothing to do but hold a's state.
  std::future<v1::RankCommand> pending;
  EXPECT_EQ(NextWithin200ms(scheduler_, pending), std::nullopt);
  auto saved = std::async(std::launch::async, [&] { return scheduler_.Save(a, "/other"); });
  const v1::RankCommand elsewhere = pending.get();
  EXPECT_EQ(elsewhere.kind(), v1::RankCommand::SAVE);
  EXPECT_EQ(elsewhere.dir(), "/other");
  CommandOutcome ok;
  ok.steps_done = 1;
  scheduler_.Complete(elsewhere, ok, {});
  ASSERT_TRUE(saved.get().ok());
  EXPECT_NE(scheduler_.Get(a)->reason().find("then saved to /other at step 1"), std::string::npos);
  // Safe now: a makes room for b.
  EXPECT_EQ(RunNext().kind(), v1::RankCommand::FINISH);
  const v1::RankCommand next = RunNext();
  EXPECT_EQ(next.kind(), v1::RankCommand::START);
  EXPECT_EQ(next.job_id(), b);
}

TEST_F(SchedulerTest, CancelReleasesAJobHeldByAFailedSave) {
  const std::string a = *scheduler_.Submit(SavingSpec(1, "/full/ck"));
  const std::string b = *scheduler_.Submit(Spec(1));
  RunNext();  // MEMORY
  RunNext();  // START a
  RunNext();  // STEP
  scheduler_.Complete(scheduler_.Next(), Failed(absl::InternalError("disk full")), {});
  ASSERT_EQ(scheduler_.Get(a)->state(), v1::SAVE_FAILED);
  auto released = scheduler_.Cancel(a);
  ASSERT_TRUE(released.ok()) << released.status();
  EXPECT_NE(released->reason().find("released by CancelJob without a save"), std::string::npos);
  EXPECT_EQ(RunNext().kind(), v1::RankCommand::FINISH);
  EXPECT_EQ(RunNext().job_id(), b);
  EXPECT_EQ(scheduler_.Cancel(a).status().code(), absl::StatusCode::kFailedPrecondition);
}

// One-shot training (zerod --train) has nobody to ask for a save elsewhere: the failed
// save ends the run, naming the untouched previous checkpoint.
TEST_F(SchedulerTest, AFailedSaveInOneShotTrainingEndsTheRun) {
  const std::string a = *scheduler_.Submit(SavingSpec(1, "/full/ck"));
  scheduler_.ShutdownWhenDone();
  RunNext();  // MEMORY
  RunNext();  // START
  RunNext();  // STEP
  scheduler_.Complete(scheduler_.Next(), Failed(absl::InternalError("disk full")), {});
  EXPECT_EQ(scheduler_.Get(a)->state(), v1::SAVE_FAILED);
  EXPECT_EQ(scheduler_.Get(a)->reason().find("stays loaded"), std::string::npos);
  EXPECT_NE(scheduler_.Get(a)->reason().find("whatever was in it before is as it was"),
            std::string::npos);
  EXPECT_EQ(RunNext().kind(), v1::RankCommand::FINISH);
  EXPECT_EQ(RunNext().kind(), v1::RankCommand::SHUTDOWN);
}

TEST_F(SchedulerTest, PeriodicSaveFailuresAreReportedAndOnlyThreeInARowEndTheJob) {
  const std::string a = *scheduler_.Submit(SavingSpec(20, "/full/ck"));
  RunNext();  // MEMORY
  RunNext();  // START
  // Steps 1..8: saves after 2 fail, after 3 succeed, after 4, 5 and 6 fail.
  for (int64_t step = 1; step <= 6; ++step) {
    v1::RankCommand c = scheduler_.Next();
    ASSERT_EQ(c.kind(), v1::RankCommand::STEP) << step;
    CommandOutcome out;
    out.metrics.set_step(step);
    if (step == 3) out.metrics.set_saved_checkpoint("/full/ck/step_00000003");
    if (step != 1 && step != 3) out.metrics.set_checkpoint_error("No space left on device");
    scheduler_.Complete(c, out, {});
    EXPECT_EQ(scheduler_.Get(a)->state(), step < 6 ? v1::RUNNING : v1::SAVE_FAILED) << step;
  }
  const v1::JobStatus ended = *scheduler_.Get(a);
  EXPECT_EQ(ended.steps_done(), 6);
  EXPECT_NE(ended.reason().find("3 periodic saves in a row failed, the last after step 6"),
            std::string::npos)
      << ended.reason();
  EXPECT_NE(ended.reason().find("stays loaded"), std::string::npos) << ended.reason();
}

TEST_F(SchedulerTest, ShutdownCancelsTheActiveAndQueuedJobsThenStopsTheRanks) {
  const std::string a = *scheduler_.Submit(Spec(100));
  const std::string b = *scheduler_.Submit(Spec(100));
  RunNext();  // MEMORY
  RunNext();  // START a
  RunNext();  // STEP
  scheduler_.RequestShutdown();
  EXPECT_FALSE(scheduler_.Submit(Spec(1)).ok());
  EXPECT_EQ(RunNext().kind(), v1::RankCommand::FINISH);
  EXPECT_EQ(RunNext().kind(), v1::RankCommand::SHUTDOWN);
  EXPECT_EQ(scheduler_.Get(a)->state(), v1::CANCELLED);
  EXPECT_EQ(scheduler_.Get(b)->state(), v1::CANCELLED);
}

TEST_F(SchedulerTest, WatchStreamsStepsAndEndsWithTheFinalState) {
  const std::string id = *scheduler_.Submit(Spec(3));
  std::vector<v1::JobEvent> events;
  std::thread watcher([&] {
    (void)scheduler_.Watch(
        id, true,
        [&](const v1::JobEvent& e) {
          events.push_back(e);
          return true;
        },
        [] { return false; });
  });
  for (int i = 0; i < 5; ++i) RunNext();  // MEMORY, START, 3 x STEP
  watcher.join();
  int steps = 0;
  for (const auto& e : events) steps += e.has_step();
  EXPECT_EQ(steps, 3);
  ASSERT_TRUE(events.back().has_status());
  EXPECT_EQ(events.back().status().state(), v1::SUCCEEDED);
}

TEST_F(SchedulerTest, CloseAnswersEveryWaitingHandler) {
  const std::string id = *scheduler_.Submit(Spec(10, /*paused=*/true));
  RunNext();  // MEMORY
  RunNext();  // START
  auto stepping = std::async(std::launch::async, [&] { return scheduler_.StepPaused(id, 5); });
  auto saving = std::async(std::launch::async, [&] { return scheduler_.Save(id, "/ckpt"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  scheduler_.Close("the daemons failed");
  EXPECT_FALSE(stepping.get().ok());
  EXPECT_FALSE(saving.get().ok());
  EXPECT_EQ(scheduler_.Get(id)->state(), v1::FAILED);
  EXPECT_EQ(scheduler_.Get(id)->reason(), "the daemons failed");
}

// Restarted daemons list the jobs of the earlier ones as they ended; one that had not
// ended is INTERRUPTED for good: not cancellable, not steppable, and new ids follow.
TEST_F(SchedulerTest, AJobInterruptedBeforeARestartStaysEndedAndNewIdsFollowIt) {
  v1::JobStatus past;
  past.set_job_id("job-7");
  past.set_state(v1::INTERRUPTED);
  *past.mutable_spec() = Spec(10, /*paused=*/true);
  scheduler_.AttachJournal(nullptr, {past});
  EXPECT_EQ(scheduler_.Get("job-7")->state(), v1::INTERRUPTED);
  const auto cancelled = scheduler_.Cancel("job-7");
  EXPECT_EQ(cancelled.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(cancelled.status().message().find("already ended (INTERRUPTED)"), std::string::npos);
  EXPECT_EQ(scheduler_.StepPaused("job-7", 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*scheduler_.Submit(Spec(1)), "job-8");
  RunNext();                               // MEMORY
  EXPECT_EQ(RunNext().job_id(), "job-8");  // START: the interrupted job is not started again
}

// A cancel that arrives while the ranks load the job ends it; once loaded it is unloaded.
TEST_F(SchedulerTest, AJobCancelledWhileItStartsIsUnloadedNotRun) {
  const std::string id = *scheduler_.Submit(Spec(5));
  RunNext();  // MEMORY
  const v1::RankCommand start = scheduler_.Next();
  ASSERT_EQ(start.kind(), v1::RankCommand::START);
  EXPECT_EQ(scheduler_.Cancel(id)->state(), v1::CANCELLED);
  scheduler_.Complete(start, {}, {});
  EXPECT_EQ(scheduler_.Get(id)->state(), v1::CANCELLED);
  EXPECT_EQ(RunNext().kind(), v1::RankCommand::FINISH);
}

}  // namespace
}  // namespace zerod::coordinator
