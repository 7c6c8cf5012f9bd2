// A job's phase in the scheduler and the transitions between phases: what the resident
// job runs next, what each command's outcome does to it, how it ends. Functions over one
// job record, no lock, no queue, no waiting: the Scheduler (scheduler.h) owns those,
// calls these under its lock, and journals what changed.
//
//   phase                reported    holds                              enters by
//   kQueued              QUEUED      its spec, in the queue              Submit
//   kStarting            QUEUED      the START in flight                 MarkStarting
//   kRunning             RUNNING     the pool; steps on its own          OnStarted
//   kPaused              PAUSED      the pool; `credits` steps to run    OnStarted
//   kSavingOnSuccess     (active)    all steps run; save to save_dir     its last step
//   kExportingOnSuccess  (active)    saved; export to export_hf_dir      its save
//   kCancelling          (active)    CancelJob asked; FINISH is next     RequestCancel
//   kPreemptSaving       (active)    a stop signal; save to save_dir     NextForResident
//   kHolding             SAVE_FAILED the pool: its own save failed, the  FailSave
//                                    trained state is the only copy
//   kSucceeded           SUCCEEDED   the pool while nothing else wants it
//   kSaveFailed          SAVE_FAILED the pool while nothing else wants it (released)
//   kFailed, kCancelled, kPreempted  their end; nothing
//   kInterrupted         INTERRUPTED nothing: the daemons died under it  PhaseOnReplay
//
// "(active)" is RUNNING, or PAUSED for a job submitted paused. Ended phases (HasEnded) run
// no more steps; the last SUCCEEDED or SAVE_FAILED job may stay loaded (resident) until
// the next job needs the daemons, and a kHolding one keeps them until it is saved
// elsewhere (OnSavedElsewhere) or released (RequestCancel). Transitions that do not apply
// to a phase change nothing (a step's outcome for an ended job, a second cancel).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "zerod.pb.h"

namespace zerod::coordinator {

enum class JobPhase {
  kQueued,
  kStarting,
  kRunning,
  kPaused,
  kSavingOnSuccess,
  kExportingOnSuccess,
  kCancelling,
  kPreemptSaving,
  kHolding,
  kSucceeded,
  kSaveFailed,
  kFailed,
  kCancelled,
  kPreempted,
  kInterrupted,
};

const char* JobPhaseName(JobPhase phase);
// Runs no more steps (loaded or not).
bool HasEnded(JobPhase phase);
// Loaded and not ended: the job Health names as active.
bool IsActive(JobPhase phase);
// The state a job's status reports in `phase`.
v1::JobState ReportedState(JobPhase phase, bool start_paused);
// The phase of a job the journal of earlier daemons lists (ReplayJournal): always an end,
// INTERRUPTED for one that had not ended when they died.
JobPhase PhaseOnReplay(v1::JobState journaled);

// What every rank reports for one command, combined on rank 0.
struct CommandOutcome {
  absl::Status status;         // the first failing rank's error, or OK
  v1::StepMetrics metrics;     // STEP
  int64_t num_parameters = 0;  // START
  std::string device;          // START: rank 0's device
  std::string dtype;           // START
  int64_t steps_done = 0;      // START (after a resume), SAVE, EXPORT
  // START: the steps the job runs in all, when the ranks know better than the spec's steps
  // (--epochs of fine-tuning samples); 0: the spec's.
  int64_t total_steps = 0;
};

// One job of the scheduler's table.
struct JobRecord {
  JobPhase phase = JobPhase::kQueued;  // the truth; status.state() follows it (EnterPhase)
  v1::JobStatus status;                // what Get, List and Watch report
  std::vector<v1::StepMetrics> steps;  // every step's metrics, in order
  // Steps StepJob asked for and not yet run: a paused job runs them (kPaused), granted
  // before or after it started; zero once it ends.
  int64_t credits = 0;
  int failed_saves_in_row = 0;  // periodic saves (StepMetrics.checkpoint_error)
};

// How far the daemons are from stopping; it only rises (Scheduler::Stop).
enum class StopMode {
  kServe,     // jobs run as they come; a succeeded job stays loaded while none waits
  kWhenDone,  // ShutdownWhenDone (one-shot --train): every job submitted runs to its
              // end, none stays loaded, then SHUTDOWN
  kNow,       // RequestShutdown, Close: the active job and the queue are cancelled
  kPreempt,   // Preempt (a stop signal): the active job saves to its save_dir and ends
              // PREEMPTED, the queue is cancelled
};

// What the transitions need to know of the daemons rather than of the job.
struct DaemonsView {
  StopMode stop = StopMode::kServe;
  std::string preempt_cause;  // "SIGTERM", with kPreempt
  bool queue_empty = true;    // no job waits for the daemons
  double now_unix = 0;        // for started_unix and finished_unix
};

// A command of `kind` for `job_id` (dir for SAVE and EXPORT).
v1::RankCommand RankCommandFor(v1::RankCommand::Kind kind, const std::string& job_id,
                               const std::string& dir = "");

// Sets the phase and the state the status reports.
void EnterPhase(JobRecord& job, JobPhase phase);
// Ends the job in `end` (an ended phase) with `reason`; its credits go.
void Finish(JobRecord& job, JobPhase end, const std::string& reason, double now_unix);

// ---- Handlers' requests.
// CancelJob. kQueued and kStarting end CANCELLED at once (the caller takes a queued job
// out of its queue; a starting one is unloaded after it loads); an active job goes
// kCancelling (it ends before its next step); kHolding is released to kSaveFailed;
// kCancelling and kPreemptSaving are ending already and stay. An ended job: an error.
absl::Status RequestCancel(JobRecord& job, double now_unix);
// StepJob: `steps` more steps of a job submitted paused, beyond those already promised,
// up to its steps_total. Returns the range of steps [first, target) the caller waits for.
struct StepGrant {
  int64_t first = 0;
  int64_t target = 0;
};
absl::StatusOr<StepGrant> GrantSteps(JobRecord& job, int64_t steps);

// ---- The rank loop's side.
// kQueued -> kStarting: its START is being broadcast.
void MarkStarting(JobRecord& job);
// The command the resident `job` runs next (it may end the job first: a cancel, the
// daemons stopping), or KIND_UNSPECIFIED when it waits (paused without credits, or ended
// and kept loaded).
v1::RankCommand NextForResident(JobRecord& job, const DaemonsView& daemons);
// The outcome of the job's command, per kind. A job that ended while its command ran
// (cancelled while starting, the daemons closed) keeps its end.
void OnStarted(JobRecord& job, const CommandOutcome& outcome, const DaemonsView& daemons);
void OnStep(JobRecord& job, const CommandOutcome& outcome, const DaemonsView& daemons);
// The job's own save (save_dir, at its end or for a preemption) or export (export_hf_dir).
void OnOwnSaveOrExport(JobRecord& job, v1::RankCommand::Kind kind, const std::string& dir,
                       const CommandOutcome& outcome, const DaemonsView& daemons);
// A save or export a handler asked for (SaveCheckpoint, ExportHf) into `dir`: one that
// makes a kHolding job's state safe releases the daemons (kSaveFailed).
void OnSavedElsewhere(JobRecord& job, v1::RankCommand::Kind kind, const std::string& dir,
                      const CommandOutcome& outcome);

}  // namespace zerod::coordinator
