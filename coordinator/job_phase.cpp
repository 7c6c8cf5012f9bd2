// A job's phases and their transitions (job_phase.h).
#include "coordinator/job_phase.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "proto/job_state.h"

namespace zerod::coordinator {
namespace {

using Kind = v1::RankCommand::Kind;

// Periodic saves that fail this many times in a row end the job (SAVE_FAILED, its state
// kept): a full disk does not fill up again by itself.
constexpr int kFailedSavesInARow = 3;

const v1::JobSpec& SpecOf(const JobRecord& job) { return job.status.spec(); }

// What is left of a job's end once `done` (its last STEP, its own SAVE, its own EXPORT)
// has run: the phase that does the next piece, or kSucceeded. A job being cancelled
// stays kCancelling while a piece is left (it ends CANCELLED without it).
JobPhase AfterOnSuccessPiece(const JobRecord& job, Kind done) {
  const bool save_left = done == v1::RankCommand::STEP && !SpecOf(job).save_dir().empty();
  const bool export_left = done != v1::RankCommand::EXPORT && !SpecOf(job).export_hf_dir().empty();
  if (!save_left && !export_left) return JobPhase::kSucceeded;
  if (job.phase == JobPhase::kCancelling) return JobPhase::kCancelling;
  return save_left ? JobPhase::kSavingOnSuccess : JobPhase::kExportingOnSuccess;
}

// Moves `job` to `next` (kSucceeded ends it).
void Advance(JobRecord& job, JobPhase next, double now_unix) {
  if (next == JobPhase::kSucceeded) {
    Finish(job, JobPhase::kSucceeded, "", now_unix);
  } else {
    EnterPhase(job, next);
  }
}

// The job's own save (or export) failed: its trained state stays loaded, and holds the
// daemons, until it is saved elsewhere or released (not when the daemons are stopping,
// where nobody can ask: they exit, the previous checkpoint untouched).
void FailSave(JobRecord& job, bool save, const std::string& dir, const std::string& why,
              const DaemonsView& daemons) {
  const std::string& id = job.status.job_id();
  const std::string& save_dir = SpecOf(job).save_dir();
  const bool can_ask = daemons.stop == StopMode::kServe;
  // Without a checkpoint of the final state the export is the only copy of the weights.
  const bool holding = can_ask && (save || save_dir.empty());
  std::string reason = absl::StrCat(save ? "saving to " : "exporting to ", dir, " failed: ", why,
                                    save ? "; whatever was in it before is as it was" : "");
  if (holding) {
    absl::StrAppend(&reason, "; the trained state (step ", job.status.steps_done(),
                    ") stays loaded: save it elsewhere with `zeroctl checkpoint ", id,
                    " --dir OTHER`",
                    save ? "" : absl::StrCat(" or `zeroctl export ", id, " --hf OTHER`"),
                    ", or release it with `zeroctl cancel ", id, "`");
  } else if (!save && !save_dir.empty()) {
    absl::StrAppend(&reason, "; the checkpoint in ", save_dir,
                    " holds the trained state (`zerod --export-hf OTHER --from-checkpoint ",
                    save_dir, "`)");
  }
  Finish(job, holding ? JobPhase::kHolding : JobPhase::kSaveFailed, reason, daemons.now_unix);
}

// A periodic save that failed is reported with its step and training goes on; so many in
// a row end the job as a failed save does.
void CountPeriodicSave(JobRecord& job, const v1::StepMetrics& step, const DaemonsView& daemons) {
  if (!step.saved_checkpoint().empty()) job.failed_saves_in_row = 0;
  if (step.checkpoint_error().empty()) return;
  if (++job.failed_saves_in_row < kFailedSavesInARow) return;
  FailSave(job, /*save=*/true, SpecOf(job).save_dir(),
           absl::StrCat(kFailedSavesInARow, " periodic saves in a row failed, the last after step ",
                        step.step(), ": ", step.checkpoint_error()),
           daemons);
}

std::string PreemptedReason(const JobRecord& job, const std::string& cause) {
  const std::string& save_dir = SpecOf(job).save_dir();
  return save_dir.empty()
             ? absl::StrCat("stopped by ", cause, " after step ", job.status.steps_done(),
                            "; no save_dir, nothing saved")
             : absl::StrCat("stopped by ", cause, " after step ", job.status.steps_done(),
                            "; checkpoint in ", save_dir, ": resubmit with --resume ", save_dir);
}

}  // namespace

const char* JobPhaseName(JobPhase phase) {
  switch (phase) {
    case JobPhase::kQueued:
      return "queued";
    case JobPhase::kStarting:
      return "starting";
    case JobPhase::kRunning:
      return "running";
    case JobPhase::kPaused:
      return "paused";
    case JobPhase::kSavingOnSuccess:
      return "saving on success";
    case JobPhase::kExportingOnSuccess:
      return "exporting on success";
    case JobPhase::kCancelling:
      return "cancelling";
    case JobPhase::kPreemptSaving:
      return "saving for a preemption";
    case JobPhase::kHolding:
      return "holding after a failed save";
    case JobPhase::kSucceeded:
      return "succeeded";
    case JobPhase::kSaveFailed:
      return "save failed";
    case JobPhase::kFailed:
      return "failed";
    case JobPhase::kCancelled:
      return "cancelled";
    case JobPhase::kPreempted:
      return "preempted";
    case JobPhase::kInterrupted:
      return "interrupted";
  }
  return "?";
}

bool HasEnded(JobPhase phase) { return phase >= JobPhase::kHolding; }

bool IsActive(JobPhase phase) {
  return phase >= JobPhase::kRunning && phase <= JobPhase::kPreemptSaving;
}

v1::JobState ReportedState(JobPhase phase, bool start_paused) {
  switch (phase) {
    case JobPhase::kQueued:
    case JobPhase::kStarting:
      return v1::QUEUED;
    case JobPhase::kRunning:
      return v1::RUNNING;
    case JobPhase::kPaused:
      return v1::PAUSED;
    case JobPhase::kSavingOnSuccess:
    case JobPhase::kExportingOnSuccess:
    case JobPhase::kCancelling:
    case JobPhase::kPreemptSaving:
      return start_paused ? v1::PAUSED : v1::RUNNING;
    case JobPhase::kHolding:
    case JobPhase::kSaveFailed:
      return v1::SAVE_FAILED;
    case JobPhase::kSucceeded:
      return v1::SUCCEEDED;
    case JobPhase::kFailed:
      return v1::FAILED;
    case JobPhase::kCancelled:
      return v1::CANCELLED;
    case JobPhase::kPreempted:
      return v1::PREEMPTED;
    case JobPhase::kInterrupted:
      return v1::INTERRUPTED;
  }
  return v1::JOB_STATE_UNSPECIFIED;
}

JobPhase PhaseOnReplay(v1::JobState journaled) {
  switch (journaled) {
    case v1::SUCCEEDED:
      return JobPhase::kSucceeded;
    case v1::FAILED:
      return JobPhase::kFailed;
    case v1::CANCELLED:
      return JobPhase::kCancelled;
    case v1::PREEMPTED:
      return JobPhase::kPreempted;
    case v1::SAVE_FAILED:
      return JobPhase::kSaveFailed;  // the daemons that held it are gone
    default:
      return JobPhase::kInterrupted;
  }
}

v1::RankCommand RankCommandFor(Kind kind, const std::string& job_id, const std::string& dir) {
  v1::RankCommand c;
  c.set_kind(kind);
  c.set_job_id(job_id);
  if (!dir.empty()) c.set_dir(dir);
  return c;
}

void EnterPhase(JobRecord& job, JobPhase phase) {
  job.phase = phase;
  job.status.set_state(ReportedState(phase, SpecOf(job).start_paused()));
}

void Finish(JobRecord& job, JobPhase end, const std::string& reason, double now_unix) {
  EnterPhase(job, end);
  job.status.set_reason(reason);
  job.status.set_finished_unix(now_unix);
  job.credits = 0;
}

absl::Status RequestCancel(JobRecord& job, double now_unix) {
  switch (job.phase) {
    case JobPhase::kQueued:
    case JobPhase::kStarting:
      Finish(job, JobPhase::kCancelled, "cancelled before it started", now_unix);
      return absl::OkStatus();
    case JobPhase::kRunning:
    case JobPhase::kPaused:
    case JobPhase::kSavingOnSuccess:
    case JobPhase::kExportingOnSuccess:
      EnterPhase(job, JobPhase::kCancelling);  // the rank loop stops it before its next step
      return absl::OkStatus();
    case JobPhase::kCancelling:
    case JobPhase::kPreemptSaving:
      return absl::OkStatus();
    case JobPhase::kHolding:
      // A job whose save failed gives up its trained state: the daemons go to the next job.
      EnterPhase(job, JobPhase::kSaveFailed);
      job.status.set_reason(
          absl::StrCat(job.status.reason(), "; released by CancelJob without a save"));
      return absl::OkStatus();
    default:
      return absl::FailedPreconditionError(absl::StrCat(
          job.status.job_id(), " already ended (", v1::JobState_Name(job.status.state()), ")"));
  }
}

absl::StatusOr<StepGrant> GrantSteps(JobRecord& job, int64_t steps) {
  const std::string& id = job.status.job_id();
  if (!SpecOf(job).start_paused()) {
    return absl::FailedPreconditionError(
        absl::StrCat(id,
                     " was not submitted paused: it steps on its own (submit with --paused to "
                     "step it by hand)"));
  }
  if (HasEnded(job.phase)) {
    return absl::FailedPreconditionError(
        absl::StrCat(id, " already ended (", v1::JobState_Name(job.status.state()), ")"));
  }
  StepGrant grant;
  grant.first = job.status.steps_done() + job.credits;  // steps already promised
  grant.target = std::min(grant.first + steps, job.status.steps_total());
  job.credits = grant.target - job.status.steps_done();
  return grant;
}

void MarkStarting(JobRecord& job) {
  if (job.phase == JobPhase::kQueued) EnterPhase(job, JobPhase::kStarting);
}

v1::RankCommand NextForResident(JobRecord& job, const DaemonsView& daemons) {
  const std::string& id = job.status.job_id();
  const v1::JobSpec& spec = SpecOf(job);
  const v1::RankCommand wait = RankCommandFor(v1::RankCommand::KIND_UNSPECIFIED, "");
  if (HasEnded(job.phase)) {
    // A job whose save failed holds the daemons until it is saved elsewhere or released;
    // one that succeeded (or was released) stays loaded while nothing else wants them.
    const bool keep = daemons.stop == StopMode::kServe &&
                      (job.phase == JobPhase::kHolding ||
                       ((job.phase == JobPhase::kSucceeded || job.phase == JobPhase::kSaveFailed) &&
                        daemons.queue_empty));
    return keep ? wait : RankCommandFor(v1::RankCommand::FINISH, id);
  }
  if (daemons.stop == StopMode::kPreempt) {
    // Stopped from outside (Slurm's time limit, preemption): save where the job saves,
    // then end it as PREEMPTED, resumable from that checkpoint.
    if (!spec.save_dir().empty() && job.phase != JobPhase::kPreemptSaving) {
      EnterPhase(job, JobPhase::kPreemptSaving);
      return RankCommandFor(v1::RankCommand::SAVE, id, spec.save_dir());
    }
    Finish(job, JobPhase::kPreempted, PreemptedReason(job, daemons.preempt_cause),
           daemons.now_unix);
    return RankCommandFor(v1::RankCommand::FINISH, id);
  }
  if (job.phase == JobPhase::kCancelling || daemons.stop == StopMode::kNow) {
    Finish(job, JobPhase::kCancelled,
           job.phase == JobPhase::kCancelling ? "cancelled by CancelJob" : "the daemons shut down",
           daemons.now_unix);
    return RankCommandFor(v1::RankCommand::FINISH, id);
  }
  if ((job.phase == JobPhase::kRunning || job.phase == JobPhase::kPaused) &&
      job.status.steps_done() >= job.status.steps_total()) {
    Advance(job, AfterOnSuccessPiece(job, v1::RankCommand::STEP), daemons.now_unix);
  }
  switch (job.phase) {
    case JobPhase::kRunning: {
      v1::RankCommand c = RankCommandFor(v1::RankCommand::STEP, id);
      // Another step follows at once unless this is the last (then the job may stay loaded
      // with nothing to do).
      c.set_next_follows(job.status.steps_done() + 1 < job.status.steps_total());
      return c;
    }
    case JobPhase::kPaused:  // runs what StepJob asked for, then waits for more
      return job.credits > 0 ? RankCommandFor(v1::RankCommand::STEP, id) : wait;
    case JobPhase::kSavingOnSuccess:
      return RankCommandFor(v1::RankCommand::SAVE, id, spec.save_dir());
    case JobPhase::kExportingOnSuccess:
      return RankCommandFor(v1::RankCommand::EXPORT, id, spec.export_hf_dir());
    case JobPhase::kSucceeded:
      return NextForResident(job, daemons);  // kept loaded or unloaded, as any ended job
    default:
      return wait;
  }
}

void OnStarted(JobRecord& job, const CommandOutcome& outcome, const DaemonsView& daemons) {
  if (job.phase != JobPhase::kStarting) return;  // cancelled while it loaded: FINISH is next
  if (!outcome.status.ok()) {
    Finish(job, JobPhase::kFailed, std::string(outcome.status.message()), daemons.now_unix);
    return;
  }
  EnterPhase(job, SpecOf(job).start_paused() ? JobPhase::kPaused : JobPhase::kRunning);
  job.status.set_started_unix(daemons.now_unix);
  job.status.set_num_parameters(outcome.num_parameters);
  job.status.set_device(outcome.device);
  job.status.set_dtype(outcome.dtype);
  job.status.set_steps_done(outcome.steps_done);
  if (outcome.total_steps > 0) job.status.set_steps_total(outcome.total_steps);
}

void OnStep(JobRecord& job, const CommandOutcome& outcome, const DaemonsView& daemons) {
  if (HasEnded(job.phase)) return;
  if (!outcome.status.ok()) {
    Finish(job, JobPhase::kFailed, std::string(outcome.status.message()), daemons.now_unix);
    return;
  }
  job.steps.push_back(outcome.metrics);
  *job.status.mutable_last() = outcome.metrics;
  if (outcome.metrics.eval_tokens() > 0) *job.status.mutable_last_eval() = outcome.metrics;
  job.status.set_steps_done(outcome.metrics.step());
  if (job.credits > 0) --job.credits;
  CountPeriodicSave(job, outcome.metrics, daemons);
  // The last step: the job's end begins (its save, its export), or it has SUCCEEDED, said
  // at once so watchers need not wait for the next command.
  if (!HasEnded(job.phase) && job.status.steps_done() >= job.status.steps_total()) {
    Advance(job, AfterOnSuccessPiece(job, v1::RankCommand::STEP), daemons.now_unix);
  }
}

void OnOwnSaveOrExport(JobRecord& job, Kind kind, const std::string& dir,
                       const CommandOutcome& outcome, const DaemonsView& daemons) {
  if (HasEnded(job.phase)) return;
  const bool save = kind == v1::RankCommand::SAVE;
  if (job.phase == JobPhase::kPreemptSaving) {
    if (outcome.status.ok()) {
      Finish(job, JobPhase::kPreempted, PreemptedReason(job, daemons.preempt_cause),
             daemons.now_unix);
    } else {
      Finish(job, JobPhase::kFailed,
             absl::StrCat("stopped by ", daemons.preempt_cause, "; saving to ", dir,
                          " failed: ", outcome.status.message()),
             daemons.now_unix);
    }
    return;
  }
  if (!outcome.status.ok()) {
    FailSave(job, save, dir, std::string(outcome.status.message()), daemons);
    return;
  }
  Advance(job, AfterOnSuccessPiece(job, kind), daemons.now_unix);
}

void OnSavedElsewhere(JobRecord& job, Kind kind, const std::string& dir,
                      const CommandOutcome& outcome) {
  const bool save = kind == v1::RankCommand::SAVE;
  if (!outcome.status.ok() || job.phase != JobPhase::kHolding ||
      !(save || SpecOf(job).save_dir().empty())) {
    return;
  }
  // The state a failed save held on to is safe now: the daemons may move on.
  EnterPhase(job, JobPhase::kSaveFailed);
  job.status.set_reason(absl::StrCat(job.status.reason(), "; then ",
                                     save ? "saved to " : "exported to ", dir, " at step ",
                                     outcome.steps_done));
}

}  // namespace zerod::coordinator
