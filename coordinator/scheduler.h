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
//
// Each job's phase and what moves it (the next command, each command's outcome, a
// cancel, a preemption) are job_phase.h's functions over its record; this class keeps
// the lock, the job table, the queue, the handlers' waits and the journal.
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
#include "coordinator/job_phase.h"
#include "coordinator/journal.h"
#include "zerod.pb.h"

namespace zerod::coordinator {

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
  absl::StatusOr<int64_t> RunControl(v1::RankCommand::Kind kind, const std::string& job_id,
                                     const std::string& dir);
  // What the phase transitions (job_phase.h) need to know of the daemons now.
  DaemonsView View() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Raises how far the daemons are from stopping (never lowers it).
  void Stop(StopMode mode) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Stopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ >= StopMode::kNow; }
  // The stall report of Health ("" when none).
  std::string StallLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Appends the job's status to the journal, if there is one.
  void Journalize(const JobRecord& job, bool durable) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
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
  StopMode stop_ ABSL_GUARDED_BY(mu_) = StopMode::kServe;
  std::string preempt_cause_ ABSL_GUARDED_BY(mu_);         // "SIGTERM": why stop_ is kPreempt
  bool tensorboard_per_job_ ABSL_GUARDED_BY(mu_) = false;  // a setting, made before serving
  std::unique_ptr<Journal> journal_ ABSL_GUARDED_BY(mu_);  // null without --state-dir
  // The command Next() returned and Complete() has not had yet (KIND_UNSPECIFIED: none).
  v1::RankCommand::Kind in_flight_ ABSL_GUARDED_BY(mu_) = v1::RankCommand::KIND_UNSPECIFIED;
  std::chrono::steady_clock::time_point step_started_ ABSL_GUARDED_BY(mu_);
  v1::GetMemoryStatsResponse memory_ ABSL_GUARDED_BY(mu_);  // taken_unix 0: none taken yet
};

}  // namespace zerod::coordinator
