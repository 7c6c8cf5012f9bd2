// Each phase transition of coordinator/job_phase.h over one job record: no scheduler, no
// threads; the test plays the daemons (DaemonsView) and the ranks (CommandOutcome).
#include "coordinator/job_phase.h"

#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "proto/job_state.h"

namespace zerod::coordinator {
namespace {

using Kind = v1::RankCommand::Kind;

constexpr JobPhase kAllPhases[] = {
    JobPhase::kQueued,     JobPhase::kStarting,        JobPhase::kRunning,
    JobPhase::kPaused,     JobPhase::kSavingOnSuccess, JobPhase::kExportingOnSuccess,
    JobPhase::kCancelling, JobPhase::kPreemptSaving,   JobPhase::kHolding,
    JobPhase::kSucceeded,  JobPhase::kSaveFailed,      JobPhase::kFailed,
    JobPhase::kCancelled,  JobPhase::kPreempted,       JobPhase::kInterrupted,
};

struct Options {
  int64_t steps = 3;
  bool paused = false;
  std::string save_dir;
  std::string export_dir;
};

JobRecord Queued(const Options& o) {
  JobRecord job;
  job.status.set_job_id("job-1");
  job.status.set_steps_total(o.steps);
  v1::JobSpec& spec = *job.status.mutable_spec();
  spec.set_steps(o.steps);
  spec.set_start_paused(o.paused);
  spec.set_save_dir(o.save_dir);
  spec.set_export_hf_dir(o.export_dir);
  EnterPhase(job, JobPhase::kQueued);
  return job;
}

DaemonsView Serving(bool queue_empty = true) {
  DaemonsView d;
  d.queue_empty = queue_empty;
  d.now_unix = 1000;
  return d;
}

DaemonsView Stopping(StopMode mode) {
  DaemonsView d = Serving();
  d.stop = mode;
  if (mode == StopMode::kPreempt) d.preempt_cause = "SIGTERM";
  return d;
}

CommandOutcome Ok() { return {}; }
CommandOutcome Failed(const std::string& why) {
  CommandOutcome out;
  out.status = absl::InternalError(why);
  return out;
}
CommandOutcome StepDone(int64_t step, const std::string& checkpoint_error = "",
                        const std::string& saved = "") {
  CommandOutcome out;
  out.metrics.set_step(step);
  out.metrics.set_checkpoint_error(checkpoint_error);
  out.metrics.set_saved_checkpoint(saved);
  return out;
}

// A job loaded on the ranks: queued, started, its START succeeded.
JobRecord Started(const Options& o) {
  JobRecord job = Queued(o);
  MarkStarting(job);
  CommandOutcome out;
  out.num_parameters = 42;
  out.device = "cpu";
  out.dtype = "float32";
  OnStarted(job, out, Serving());
  return job;
}

// Runs the job's steps as a successful rank loop would, until it asks for something else.
void RunSteps(JobRecord& job, const DaemonsView& d) {
  while (true) {
    const v1::RankCommand c = NextForResident(job, d);
    if (c.kind() != v1::RankCommand::STEP) return;
    OnStep(job, StepDone(job.status.steps_done() + 1), d);
  }
}

bool Contains(absl::string_view text, absl::string_view part) {
  return absl::StrContains(text, part);
}

TEST(JobPhaseTest, EveryPhaseReportsAStateThatEndsExactlyWhenThePhaseDoes) {
  for (JobPhase phase : kAllPhases) {
    for (bool paused : {false, true}) {
      const v1::JobState state = ReportedState(phase, paused);
      EXPECT_NE(state, v1::JOB_STATE_UNSPECIFIED) << JobPhaseName(phase);
      EXPECT_EQ(HasEnded(phase), v1::HasEnded(state)) << JobPhaseName(phase);
      EXPECT_FALSE(IsActive(phase) && HasEnded(phase)) << JobPhaseName(phase);
    }
  }
  EXPECT_EQ(ReportedState(JobPhase::kCancelling, /*start_paused=*/true), v1::PAUSED);
  EXPECT_EQ(ReportedState(JobPhase::kSavingOnSuccess, /*start_paused=*/false), v1::RUNNING);
}

TEST(JobPhaseTest, AStartingJobStaysQueuedUntilItsStartSucceeds) {
  JobRecord job = Queued({});
  MarkStarting(job);
  EXPECT_EQ(job.phase, JobPhase::kStarting);
  EXPECT_EQ(job.status.state(), v1::QUEUED);
  CommandOutcome out;
  out.num_parameters = 42;
  out.steps_done = 1;  // resumed
  OnStarted(job, out, Serving());
  EXPECT_EQ(job.phase, JobPhase::kRunning);
  EXPECT_EQ(job.status.state(), v1::RUNNING);
  EXPECT_EQ(job.status.num_parameters(), 42);
  EXPECT_EQ(job.status.steps_done(), 1);
  EXPECT_EQ(job.status.started_unix(), 1000);
  EXPECT_EQ(Started({.paused = true}).phase, JobPhase::kPaused);
}

TEST(JobPhaseTest, AFailedStartFailsTheJobWithItsReason) {
  JobRecord job = Queued({});
  MarkStarting(job);
  OnStarted(job, Failed("config.json: no such file"), Serving());
  EXPECT_EQ(job.phase, JobPhase::kFailed);
  EXPECT_EQ(job.status.reason(), "config.json: no such file");
  EXPECT_EQ(job.status.finished_unix(), 1000);
}

TEST(JobPhaseTest, AJobCancelledWhileItStartsStaysCancelledAndIsUnloaded) {
  JobRecord job = Queued({});
  MarkStarting(job);
  ASSERT_TRUE(RequestCancel(job, 1000).ok());
  EXPECT_EQ(job.phase, JobPhase::kCancelled);
  OnStarted(job, Ok(), Serving());  // the ranks loaded it meanwhile
  EXPECT_EQ(job.phase, JobPhase::kCancelled);
  EXPECT_EQ(NextForResident(job, Serving()).kind(), v1::RankCommand::FINISH);
}

TEST(JobPhaseTest, ARunningJobStepsOnItsOwnAndSaysWhenAnotherStepFollows) {
  JobRecord job = Started({.steps = 2});
  v1::RankCommand c = NextForResident(job, Serving());
  EXPECT_EQ(c.kind(), v1::RankCommand::STEP);
  EXPECT_TRUE(c.next_follows());
  OnStep(job, StepDone(1), Serving());
  c = NextForResident(job, Serving());
  EXPECT_EQ(c.kind(), v1::RankCommand::STEP);
  EXPECT_FALSE(c.next_follows());  // the last
}

TEST(JobPhaseTest, ALastStepWithNothingToSaveSucceedsAtOnce) {
  JobRecord job = Started({.steps = 1});
  OnStep(job, StepDone(1), Serving());
  EXPECT_EQ(job.phase, JobPhase::kSucceeded);
  EXPECT_EQ(job.status.steps_done(), 1);
  ASSERT_EQ(job.steps.size(), 1u);
}

TEST(JobPhaseTest, AFailedStepFailsTheJob) {
  JobRecord job = Started({});
  OnStep(job, Failed("loss is nan at step 1"), Serving());
  EXPECT_EQ(job.phase, JobPhase::kFailed);
  EXPECT_EQ(job.status.reason(), "loss is nan at step 1");
  EXPECT_EQ(NextForResident(job, Serving()).kind(), v1::RankCommand::FINISH);
}

TEST(JobPhaseTest, PausedCreditsRunExactlyTheStepsAskedForThenTheJobWaits) {
  JobRecord job = Started({.steps = 5, .paused = true});
  EXPECT_EQ(NextForResident(job, Serving()).kind(), v1::RankCommand::KIND_UNSPECIFIED);
  absl::StatusOr<StepGrant> grant = GrantSteps(job, 2);
  ASSERT_TRUE(grant.ok());
  EXPECT_EQ(grant->first, 0);
  EXPECT_EQ(grant->target, 2);
  EXPECT_EQ(job.credits, 2);
  // A second grant before the first ran adds to what is already promised.
  grant = GrantSteps(job, 1);
  EXPECT_EQ(grant->first, 2);
  EXPECT_EQ(grant->target, 3);
  EXPECT_EQ(job.credits, 3);
  v1::RankCommand c = NextForResident(job, Serving());
  EXPECT_EQ(c.kind(), v1::RankCommand::STEP);
  EXPECT_FALSE(c.next_follows());  // a paused job's steps are asked for one by one
  RunSteps(job, Serving());
  EXPECT_EQ(job.status.steps_done(), 3);
  EXPECT_EQ(job.credits, 0);
  EXPECT_EQ(job.phase, JobPhase::kPaused);
  EXPECT_EQ(NextForResident(job, Serving()).kind(), v1::RankCommand::KIND_UNSPECIFIED);
  // More than the job has left: up to its steps_total, then it succeeds.
  grant = GrantSteps(job, 10);
  EXPECT_EQ(grant->target, 5);
  RunSteps(job, Serving());
  EXPECT_EQ(job.phase, JobPhase::kSucceeded);
  EXPECT_EQ(job.credits, 0);
}

TEST(JobPhaseTest, CreditsGrantedBeforeAPausedJobStartsAreKept) {
  JobRecord job = Queued({.steps = 5, .paused = true});
  ASSERT_TRUE(GrantSteps(job, 2).ok());
  MarkStarting(job);
  OnStarted(job, Ok(), Serving());
  RunSteps(job, Serving());
  EXPECT_EQ(job.status.steps_done(), 2);
}

TEST(JobPhaseTest, StepsAreGrantedOnlyToAJobSubmittedPausedThatHasNotEnded) {
  JobRecord running = Started({});
  absl::StatusOr<StepGrant> grant = GrantSteps(running, 1);
  EXPECT_EQ(grant.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(grant.status().message(), "not submitted paused"));
  JobRecord ended = Started({.paused = true});
  Finish(ended, JobPhase::kFailed, "x", 1000);
  grant = GrantSteps(ended, 1);
  EXPECT_TRUE(Contains(grant.status().message(), "already ended (FAILED)"));
}

TEST(JobPhaseTest, TheEndSavesThenExportsThenSucceedsReportingRunningMeanwhile) {
  JobRecord job = Started({.steps = 1, .save_dir = "/ckpt", .export_dir = "/hf"});
  RunSteps(job, Serving());
  EXPECT_EQ(job.phase, JobPhase::kSavingOnSuccess);
  EXPECT_EQ(job.status.state(), v1::RUNNING);
  v1::RankCommand c = NextForResident(job, Serving());
  EXPECT_EQ(c.kind(), v1::RankCommand::SAVE);
  EXPECT_EQ(c.dir(), "/ckpt");
  OnOwnSaveOrExport(job, c.kind(), c.dir(), Ok(), Serving());
  EXPECT_EQ(job.phase, JobPhase::kExportingOnSuccess);
  c = NextForResident(job, Serving());
  EXPECT_EQ(c.kind(), v1::RankCommand::EXPORT);
  EXPECT_EQ(c.dir(), "/hf");
  OnOwnSaveOrExport(job, c.kind(), c.dir(), Ok(), Serving());
  EXPECT_EQ(job.phase, JobPhase::kSucceeded);
  EXPECT_EQ(job.status.state(), v1::SUCCEEDED);
  EXPECT_EQ(job.status.reason(), "");
}

TEST(JobPhaseTest, ASucceededJobStaysLoadedOnlyWhileNothingElseWantsTheDaemons) {
  JobRecord job = Started({.steps = 1});
  RunSteps(job, Serving());
  ASSERT_EQ(job.phase, JobPhase::kSucceeded);
  EXPECT_EQ(NextForResident(job, Serving()).kind(), v1::RankCommand::KIND_UNSPECIFIED);
  EXPECT_EQ(NextForResident(job, Serving(/*queue_empty=*/false)).kind(), v1::RankCommand::FINISH);
  EXPECT_EQ(NextForResident(job, Stopping(StopMode::kWhenDone)).kind(), v1::RankCommand::FINISH);
}

TEST(JobPhaseTest, AFailedFinalSaveHoldsTheDaemonsUntilASaveElsewhere) {
  JobRecord job = Started({.steps = 1, .save_dir = "/ckpt"});
  RunSteps(job, Serving());
  OnOwnSaveOrExport(job, v1::RankCommand::SAVE, "/ckpt", Failed("disk full"), Serving());
  EXPECT_EQ(job.phase, JobPhase::kHolding);
  EXPECT_EQ(job.status.state(), v1::SAVE_FAILED);
  EXPECT_TRUE(Contains(job.status.reason(), "saving to /ckpt failed: disk full"));
  EXPECT_TRUE(Contains(job.status.reason(), "zeroctl checkpoint job-1 --dir OTHER"));
  // Held even while another job waits.
  EXPECT_EQ(NextForResident(job, Serving(/*queue_empty=*/false)).kind(),
            v1::RankCommand::KIND_UNSPECIFIED);
  // A failed save elsewhere, or an export while it has a save_dir, keeps holding.
  OnSavedElsewhere(job, v1::RankCommand::SAVE, "/other", Failed("disk full too"));
  OnSavedElsewhere(job, v1::RankCommand::EXPORT, "/hf", Ok());
  EXPECT_EQ(job.phase, JobPhase::kHolding);
  CommandOutcome saved;
  saved.steps_done = 1;
  OnSavedElsewhere(job, v1::RankCommand::SAVE, "/other", saved);
  EXPECT_EQ(job.phase, JobPhase::kSaveFailed);
  EXPECT_TRUE(Contains(job.status.reason(), "; then saved to /other at step 1"));
  EXPECT_EQ(NextForResident(job, Serving(/*queue_empty=*/false)).kind(), v1::RankCommand::FINISH);
}

TEST(JobPhaseTest, AFailedExportHoldsOnlyWhenNoCheckpointHasTheState) {
  JobRecord alone = Started({.steps = 1, .export_dir = "/hf"});
  RunSteps(alone, Serving());
  OnOwnSaveOrExport(alone, v1::RankCommand::EXPORT, "/hf", Failed("disk full"), Serving());
  EXPECT_EQ(alone.phase, JobPhase::kHolding);
  EXPECT_TRUE(Contains(alone.status.reason(), "zeroctl export job-1 --hf OTHER"));
  JobRecord saved = Started({.steps = 1, .save_dir = "/ckpt", .export_dir = "/hf"});
  RunSteps(saved, Serving());
  OnOwnSaveOrExport(saved, v1::RankCommand::SAVE, "/ckpt", Ok(), Serving());
  OnOwnSaveOrExport(saved, v1::RankCommand::EXPORT, "/hf", Failed("disk full"), Serving());
  EXPECT_EQ(saved.phase, JobPhase::kSaveFailed);
  EXPECT_TRUE(Contains(saved.status.reason(), "--from-checkpoint /ckpt"));
}

TEST(JobPhaseTest, AFailedSaveWhileTheDaemonsStopDoesNotHoldThem) {
  JobRecord job = Started({.steps = 1, .save_dir = "/ckpt"});
  RunSteps(job, Stopping(StopMode::kWhenDone));
  OnOwnSaveOrExport(job, v1::RankCommand::SAVE, "/ckpt", Failed("disk full"),
                    Stopping(StopMode::kWhenDone));
  EXPECT_EQ(job.phase, JobPhase::kSaveFailed);
  EXPECT_FALSE(Contains(job.status.reason(), "stays loaded"));
  EXPECT_EQ(NextForResident(job, Stopping(StopMode::kWhenDone)).kind(), v1::RankCommand::FINISH);
}

TEST(JobPhaseTest, OnlyThreePeriodicSaveFailuresInARowEndTheJob) {
  JobRecord job = Started({.steps = 10, .save_dir = "/ckpt"});
  OnStep(job, StepDone(1, "disk full"), Serving());
  OnStep(job, StepDone(2, "disk full"), Serving());
  OnStep(job, StepDone(3, "", "/ckpt/step_00000003"), Serving());  // a save that worked
  OnStep(job, StepDone(4, "disk full"), Serving());
  OnStep(job, StepDone(5, "disk full"), Serving());
  EXPECT_EQ(job.phase, JobPhase::kRunning);
  OnStep(job, StepDone(6, "disk full"), Serving());
  EXPECT_EQ(job.phase, JobPhase::kHolding);
  EXPECT_TRUE(
      Contains(job.status.reason(), "3 periodic saves in a row failed, the last after step 6"));
}

TEST(JobPhaseTest, CancelEndsEachPhaseAsItsCommentSays) {
  JobRecord queued = Queued({});
  ASSERT_TRUE(RequestCancel(queued, 1000).ok());
  EXPECT_EQ(queued.phase, JobPhase::kCancelled);
  EXPECT_EQ(queued.status.reason(), "cancelled before it started");

  JobRecord running = Started({.paused = true});
  ASSERT_TRUE(GrantSteps(running, 2).ok());
  ASSERT_TRUE(RequestCancel(running, 1000).ok());
  EXPECT_EQ(running.phase, JobPhase::kCancelling);
  EXPECT_EQ(running.status.state(), v1::PAUSED);   // until its next command
  ASSERT_TRUE(RequestCancel(running, 1000).ok());  // a second cancel changes nothing
  EXPECT_EQ(running.phase, JobPhase::kCancelling);
  EXPECT_EQ(NextForResident(running, Serving()).kind(), v1::RankCommand::FINISH);
  EXPECT_EQ(running.phase, JobPhase::kCancelled);
  EXPECT_EQ(running.status.reason(), "cancelled by CancelJob");
  EXPECT_EQ(running.credits, 0);

  JobRecord held = Started({.steps = 1, .save_dir = "/ckpt"});
  RunSteps(held, Serving());
  OnOwnSaveOrExport(held, v1::RankCommand::SAVE, "/ckpt", Failed("disk full"), Serving());
  ASSERT_TRUE(RequestCancel(held, 1000).ok());
  EXPECT_EQ(held.phase, JobPhase::kSaveFailed);
  EXPECT_TRUE(Contains(held.status.reason(), "; released by CancelJob without a save"));

  const absl::Status again = RequestCancel(running, 1000);
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(again.message(), "job-1 already ended (CANCELLED)"));
}

TEST(JobPhaseTest, ACancelDuringTheFinalSaveStillSucceedsWhenNothingIsLeft) {
  JobRecord job = Started({.steps = 1, .save_dir = "/ckpt"});
  RunSteps(job, Serving());
  ASSERT_EQ(NextForResident(job, Serving()).kind(), v1::RankCommand::SAVE);
  ASSERT_TRUE(RequestCancel(job, 1000).ok());
  OnOwnSaveOrExport(job, v1::RankCommand::SAVE, "/ckpt", Ok(), Serving());
  EXPECT_EQ(job.phase, JobPhase::kSucceeded);

  // With the export still to do, the cancel wins and the export is not written.
  JobRecord both = Started({.steps = 1, .save_dir = "/ckpt", .export_dir = "/hf"});
  RunSteps(both, Serving());
  ASSERT_EQ(NextForResident(both, Serving()).kind(), v1::RankCommand::SAVE);
  ASSERT_TRUE(RequestCancel(both, 1000).ok());
  OnOwnSaveOrExport(both, v1::RankCommand::SAVE, "/ckpt", Ok(), Serving());
  EXPECT_EQ(both.phase, JobPhase::kCancelling);
  EXPECT_EQ(NextForResident(both, Serving()).kind(), v1::RankCommand::FINISH);
  EXPECT_EQ(both.phase, JobPhase::kCancelled);
}

TEST(JobPhaseTest, ShutdownCancelsTheResidentJob) {
  JobRecord job = Started({});
  EXPECT_EQ(NextForResident(job, Stopping(StopMode::kNow)).kind(), v1::RankCommand::FINISH);
  EXPECT_EQ(job.phase, JobPhase::kCancelled);
  EXPECT_EQ(job.status.reason(), "the daemons shut down");
}

TEST(JobPhaseTest, PreemptionSavesToTheSaveDirThenEndsPreemptedAndResumable) {
  JobRecord job = Started({.steps = 10, .save_dir = "/ckpt"});
  OnStep(job, StepDone(1), Serving());
  const DaemonsView preempt = Stopping(StopMode::kPreempt);
  v1::RankCommand c = NextForResident(job, preempt);
  EXPECT_EQ(c.kind(), v1::RankCommand::SAVE);
  EXPECT_EQ(c.dir(), "/ckpt");
  EXPECT_EQ(job.phase, JobPhase::kPreemptSaving);
  EXPECT_EQ(job.status.state(), v1::RUNNING);
  ASSERT_TRUE(RequestCancel(job, 1000).ok());  // ending already: the save goes on
  EXPECT_EQ(job.phase, JobPhase::kPreemptSaving);
  OnOwnSaveOrExport(job, c.kind(), c.dir(), Ok(), preempt);
  EXPECT_EQ(job.phase, JobPhase::kPreempted);
  EXPECT_EQ(job.status.reason(),
            "stopped by SIGTERM after step 1; checkpoint in /ckpt: resubmit with --resume /ckpt");
  EXPECT_EQ(NextForResident(job, preempt).kind(), v1::RankCommand::FINISH);
}

TEST(JobPhaseTest, PreemptionWithoutASaveDirEndsAtOnceAndAFailedSaveFails) {
  const DaemonsView preempt = Stopping(StopMode::kPreempt);
  JobRecord nowhere = Started({});
  EXPECT_EQ(NextForResident(nowhere, preempt).kind(), v1::RankCommand::FINISH);
  EXPECT_EQ(nowhere.phase, JobPhase::kPreempted);
  EXPECT_EQ(nowhere.status.reason(), "stopped by SIGTERM after step 0; no save_dir, nothing saved");

  JobRecord full = Started({.save_dir = "/ckpt"});
  ASSERT_EQ(NextForResident(full, preempt).kind(), v1::RankCommand::SAVE);
  OnOwnSaveOrExport(full, v1::RankCommand::SAVE, "/ckpt", Failed("disk full"), preempt);
  EXPECT_EQ(full.phase, JobPhase::kFailed);
  EXPECT_EQ(full.status.reason(), "stopped by SIGTERM; saving to /ckpt failed: disk full");
}

TEST(JobPhaseTest, PreemptionOfAJobBeingCancelledSavesItToo) {
  JobRecord job = Started({.save_dir = "/ckpt"});
  ASSERT_TRUE(RequestCancel(job, 1000).ok());
  EXPECT_EQ(NextForResident(job, Stopping(StopMode::kPreempt)).kind(), v1::RankCommand::SAVE);
  EXPECT_EQ(job.phase, JobPhase::kPreemptSaving);
}

TEST(JobPhaseTest, AJobThatHadNotEndedWhenTheDaemonsDiedIsInterruptedAfterARestart) {
  for (v1::JobState s : {v1::QUEUED, v1::RUNNING, v1::PAUSED, v1::INTERRUPTED}) {
    EXPECT_EQ(PhaseOnReplay(s), JobPhase::kInterrupted) << v1::JobState_Name(s);
  }
  EXPECT_EQ(PhaseOnReplay(v1::SUCCEEDED), JobPhase::kSucceeded);
  EXPECT_EQ(PhaseOnReplay(v1::PREEMPTED), JobPhase::kPreempted);
  // The daemons that held a SAVE_FAILED job's state are gone: nothing holds now.
  EXPECT_EQ(PhaseOnReplay(v1::SAVE_FAILED), JobPhase::kSaveFailed);

  JobRecord job = Queued({.paused = true});
  EnterPhase(job, PhaseOnReplay(v1::INTERRUPTED));
  EXPECT_EQ(job.status.state(), v1::INTERRUPTED);
  EXPECT_TRUE(HasEnded(job.phase));
  EXPECT_TRUE(Contains(RequestCancel(job, 1000).message(), "already ended (INTERRUPTED)"));
  EXPECT_FALSE(GrantSteps(job, 1).ok());
}

TEST(JobPhaseTest, OutcomesForAnEndedJobChangeNothing) {
  JobRecord job = Started({});
  Finish(job, JobPhase::kFailed, "the daemons closed", 1000);
  OnStep(job, StepDone(1), Serving());
  OnOwnSaveOrExport(job, v1::RankCommand::SAVE, "/ckpt", Ok(), Serving());
  OnStarted(job, Ok(), Serving());
  EXPECT_EQ(job.phase, JobPhase::kFailed);
  EXPECT_EQ(job.status.steps_done(), 0);
  EXPECT_EQ(job.status.reason(), "the daemons closed");
}

}  // namespace
}  // namespace zerod::coordinator
