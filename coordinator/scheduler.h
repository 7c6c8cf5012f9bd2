// Scheduler: rank 0's job table and queue, between the gRPC handlers and the rank loop.
//
// The handlers (any thread) submit, cancel, ask for steps, saves and exports, and read
// snapshots; they never touch MPI or the engine. The rank loop (rank 0's main thread)
// asks Next() for the one command all ranks run next, broadcasts it, runs it, and hands
// the outcome to Complete(). So everything MPI happens on one thread (DESIGN.md), and a
// handler waiting for a result waits on this object, not on a collective.
//
// Jobs run one at a time, FIFO. The "resident" job is the one loaded on the ranks: the
// running or paused job, or the last one that SUCCEEDED, kept loaded so it can still be
// checkpointed or exported until the next job needs the pool. A job whose own save
// failed (SAVE_FAILED) stays resident and the queue waits for it: its trained state is
// the only copy until SaveCheckpoint writes it elsewhere or CancelJob releases it.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/journal.h"
#include "zerod.pb.h"

namespace zerod::coordinator {

// What every rank reports for one command, combined on rank 0.
struct CommandOutcome {
  absl::Status status;         // the first failing rank's error, or OK
  v1::StepMetrics metrics;     // STEP
  int64_t num_parameters = 0;  // START
  std::string device;          // START: rank 0's device
  std::string dtype;           // START
  int64_t steps_done = 0;      // START (after a resume), SAVE, EXPORT
};

class Scheduler {
 public:
  // `stall_floor_s`: Health reports a step as stalled only after this long (and 5x the
  // job's recent median step).
  Scheduler(int world_size, std::string launcher, double stall_floor_s = 30.0);
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // ---- Handlers' side: thread-safe. Specs arrive validated (validate.h).
  // Queues a job; returns its id ("job-1", "job-2", ...).
  absl::StatusOr<std::string> Submit(const v1::JobSpec& spec);
  absl::StatusOr<v1::JobStatus> Get(const std::string& job_id) const;
  std::vector<v1::JobStatus> List() const;
  // A queued job is cancelled at once; an active one before its next step; a SAVE_FAILED
  // one that holds the daemons is released (unloaded when another job wants them).
  absl::StatusOr<v1::JobStatus> Cancel(const std::string& job_id);
  // Runs `steps` more steps of a job submitted paused; blocks until they ran or the job
  // ended, and returns their metrics.
  absl::StatusOr<v1::StepJobResponse> StepPaused(const std::string& job_id, int64_t steps);
  // Saves / exports the resident job; blocks until done; returns the job's step then.
  // Export of a job no longer loaded that saved a checkpoint (its save_dir) writes the
  // export from that checkpoint, through the exporter set below.
  absl::StatusOr<int64_t> Save(const std::string& job_id, const std::string& dir);
  absl::StatusOr<int64_t> Export(const std::string& job_id, const std::string& dir);
  // How to write a Hugging Face directory from a checkpoint directory (the daemon's
  // engine does it; the coordinator stays torch-free). Returns the checkpoint's step.
  using CheckpointExporter =
      std::function<absl::StatusOr<int64_t>(const std::string& checkpoint, const std::string& out)>;
  void SetCheckpointExporter(CheckpointExporter exporter) { exporter_ = std::move(exporter); }
  // Streams a job's events to `send` (false: the client went away) until the job ends
  // or `cancelled()` turns true.
  absl::Status Watch(const std::string& job_id, bool from_start,
                     const std::function<bool(const v1::JobEvent&)>& send,
                     const std::function<bool()>& cancelled) const;
  // The newest per-rank snapshot (taken after every command), served at once.
  v1::GetMemoryStatsResponse Memory() const;
  v1::HealthResponse Health() const;
  // Keeps the job table in `journal` from now on, after loading the jobs of earlier daemons
  // (ReplayJournal): they are listed as they ended (or INTERRUPTED) and new ids follow
  // theirs. Call before the server starts.
  void AttachJournal(std::unique_ptr<Journal> journal, const std::vector<v1::JobStatus>& past);
  // Cancels the active and queued jobs; the rank loop then gets SHUTDOWN.
  void RequestShutdown();
  // From now on a job's tensorboard_dir means tensorboard_dir/<job id>, so that every job
  // of the service is a run of its own under one `tensorboard --logdir`.
  void PutEachJobsTensorboardInItsOwnDir() {
    absl::MutexLock lock(&mu_);
    tensorboard_per_job_ = true;
  }
  // Lets every job submitted so far run to its end (a succeeded job is unloaded, not kept),
  // then gives the rank loop SHUTDOWN: one-shot training (`zerod --train`).
  void ShutdownWhenDone();
  // A stop signal (`cause`: "SIGTERM"): the active job saves to its save_dir (if it has
  // one) and ends PREEMPTED, queued jobs are cancelled, the rank loop then gets SHUTDOWN.
  void Preempt(const std::string& cause);
  bool shutting_down() const;

  // The rank loop has ended (after SHUTDOWN, or because MPI failed): ends every job that
  // has not ended with `reason` and answers every waiting handler, so none blocks the
  // server's shutdown.
  void Close(const std::string& reason);

  // ---- Rank loop's side: one thread.
  // Blocks until there is something for the ranks to do.
  v1::RankCommand Next();
  // The outcome of the command Next() returned last, and every rank's memory after it.
  void Complete(const v1::RankCommand& command, const CommandOutcome& outcome,
                const std::vector<v1::RankMemory>& memory);

 private:
  struct JobRecord {
    v1::JobStatus status;
    std::vector<v1::StepMetrics> steps;
    int64_t credits = 0;  // PAUSED: steps asked for by StepJob, not yet run
    bool cancel_requested = false;
    bool saved_on_success = false;
    bool exported_on_success = false;
    bool preempt_saved = false;  // its save for a preemption was asked for
    // SAVE_FAILED: the trained state stays resident and the queue waits, until a save
    // elsewhere succeeds or CancelJob releases it.
    bool holding = false;
    int failed_saves_in_row = 0;  // periodic saves (StepMetrics.checkpoint_error)
  };
  // A SaveCheckpoint or ExportHf waiting for the rank loop.
  struct Control {
    v1::RankCommand::Kind kind;
    std::string job_id;
    std::string dir;
    bool done = false;
    absl::StatusOr<int64_t> result = absl::UnknownError("not run");
  };

  // The command to run now, or KIND_UNSPECIFIED when there is none.
  v1::RankCommand NextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  v1::RankCommand CommandForResident(JobRecord& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<int64_t> RunControl(v1::RankCommand::Kind kind, const std::string& job_id,
                                     const std::string& dir);
  void FinishJob(JobRecord& job, v1::JobState state, const std::string& reason)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The stall report of Health ("" when none).
  std::string StallLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends the job's status to the journal, if there is one.
  void Journalize(const JobRecord& job, bool durable) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MaybeSucceed(JobRecord& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailSave(JobRecord& job, bool save, const std::string& dir, const std::string& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CountPeriodicSave(JobRecord& job, const v1::StepMetrics& step)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  JobRecord* Find(const std::string& job_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const JobRecord* Find(const std::string& job_id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  double Now() const;

  // Constant after construction.
  const int world_size_;
  const std::string launcher_;
  const std::chrono::steady_clock::time_point started_;
  const double stall_floor_s_;

  CheckpointExporter exporter_;  // set once before the server starts
  mutable absl::Mutex mu_;
  // Signalled on every change: handlers wait on it for results, the loop for work.
  mutable absl::CondVar changed_;
  std::map<std::string, JobRecord> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> order_ ABSL_GUARDED_BY(mu_);  // submission order, for List
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);   // QUEUED job ids, FIFO
  std::deque<std::shared_ptr<Control>> controls_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<Control> running_control_ ABSL_GUARDED_BY(mu_);  // the SAVE/EXPORT in flight
  std::string resident_ ABSL_GUARDED_BY(mu_);                      // job loaded on the ranks, or ""
  int64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool shutdown_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool shutdown_when_done_ ABSL_GUARDED_BY(mu_) = false;
  bool tensorboard_per_job_ ABSL_GUARDED_BY(mu_) = false;  // ShutdownWhenDone was called
  std::string preempt_cause_ ABSL_GUARDED_BY(mu_);         // non-empty once Preempt was called
  std::unique_ptr<Journal> journal_ ABSL_GUARDED_BY(mu_);  // null without --state-dir
  bool step_in_flight_ ABSL_GUARDED_BY(mu_) = false;  // Next() returned a STEP not yet Complete()d
  std::chrono::steady_clock::time_point step_started_ ABSL_GUARDED_BY(mu_);
  bool memory_taken_ ABSL_GUARDED_BY(mu_) = false;
  v1::GetMemoryStatsResponse memory_ ABSL_GUARDED_BY(mu_);
};

}  // namespace zerod::coordinator
