#include "coordinator/scheduler.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "proto/job_state.h"

namespace zerod::coordinator {
namespace {

// Periodic saves that fail this many times in a row end the job (SAVE_FAILED, its state
// kept): a full disk does not fill up again by itself.
constexpr int kFailedSavesInARow = 3;

using Kind = v1::RankCommand::Kind;

v1::RankCommand Command(Kind kind, const std::string& job_id) {
  v1::RankCommand c;
  c.set_kind(kind);
  c.set_job_id(job_id);
  return c;
}

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool IsActive(v1::JobState state) { return state == v1::RUNNING || state == v1::PAUSED; }

}  // namespace

Scheduler::Scheduler(int world_size, std::string launcher, double stall_floor_s)
    : world_size_(world_size),
      launcher_(std::move(launcher)),
      started_(std::chrono::steady_clock::now()),
      stall_floor_s_(stall_floor_s) {}

double Scheduler::Now() const { return UnixNow(); }

Scheduler::JobRecord* Scheduler::Find(const std::string& job_id) {
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? nullptr : &it->second;
}
const Scheduler::JobRecord* Scheduler::Find(const std::string& job_id) const {
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? nullptr : &it->second;
}

absl::Status NoSuchJob(const std::string& job_id) {
  return absl::NotFoundError(
      absl::StrCat("job_id: no job '", job_id, "' (zeroctl list shows the jobs)"));
}

absl::StatusOr<std::string> Scheduler::Submit(const v1::JobSpec& spec) {
  absl::MutexLock lock(&mu_);
  if (shutdown_requested_) return absl::UnavailableError("the daemons are shutting down");
  const std::string id = absl::StrCat("job-", next_id_++);
  JobRecord& job = jobs_[id];
  job.status.set_job_id(id);
  job.status.set_name(spec.name());
  job.status.set_state(v1::QUEUED);
  job.status.set_steps_total(spec.steps());
  job.status.set_world_size(world_size_);
  job.status.set_submitted_unix(Now());
  *job.status.mutable_spec() = spec;
  if (tensorboard_per_job_ && !spec.tensorboard_dir().empty()) {
    job.status.mutable_spec()->set_tensorboard_dir(absl::StrCat(spec.tensorboard_dir(), "/", id));
  }
  order_.push_back(id);
  queue_.push_back(id);
  Journalize(job, /*durable=*/true);
  changed_.SignalAll();
  return id;
}

absl::StatusOr<v1::JobStatus> Scheduler::Get(const std::string& job_id) const {
  absl::MutexLock lock(&mu_);
  const JobRecord* job = Find(job_id);
  if (job == nullptr) return NoSuchJob(job_id);
  return job->status;
}

std::vector<v1::JobStatus> Scheduler::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<v1::JobStatus> out;
  for (const auto& id : order_) out.push_back(jobs_.at(id).status);
  return out;
}

absl::StatusOr<v1::JobStatus> Scheduler::Cancel(const std::string& job_id) {
  absl::MutexLock lock(&mu_);
  JobRecord* job = Find(job_id);
  if (job == nullptr) return NoSuchJob(job_id);
  const v1::JobState state = job->status.state();
  if (job->holding) {
    // A job whose save failed gives up its trained state: the daemons go to the next job.
    job->holding = false;
    job->status.set_reason(
        absl::StrCat(job->status.reason(), "; released by CancelJob without a save"));
    Journalize(*job, /*durable=*/true);
    changed_.SignalAll();
    return job->status;
  }
  if (v1::HasEnded(state)) {
    return absl::FailedPreconditionError(
        absl::StrCat(job_id, " already ended (", v1::JobState_Name(state), ")"));
  }
  if (state == v1::QUEUED) {
    std::erase(queue_, job_id);
    FinishJob(*job, v1::CANCELLED, "cancelled before it started");
  } else {
    job->cancel_requested = true;  // the rank loop stops it before its next step
  }
  changed_.SignalAll();
  return job->status;
}

absl::StatusOr<v1::StepJobResponse> Scheduler::StepPaused(const std::string& job_id,
                                                          int64_t steps) {
  absl::MutexLock lock(&mu_);
  JobRecord* job = Find(job_id);
  if (job == nullptr) return NoSuchJob(job_id);
  if (!job->status.spec().start_paused()) {
    return absl::FailedPreconditionError(
        absl::StrCat(job_id,
                     " was not submitted paused: it steps on its own (submit with --paused to "
                     "step it by hand)"));
  }
  if (v1::HasEnded(job->status.state())) {
    return absl::FailedPreconditionError(
        absl::StrCat(job_id, " already ended (", v1::JobState_Name(job->status.state()), ")"));
  }
  const int64_t first = job->status.steps_done() + job->credits;  // steps already promised
  const int64_t target = std::min(first + steps, job->status.steps_total());
  job->credits = target - job->status.steps_done();
  changed_.SignalAll();
  while (job->status.steps_done() < target && !v1::HasEnded(job->status.state())) {
    changed_.Wait(&mu_);
  }
  v1::StepJobResponse response;
  for (int64_t i = first; i < std::min<int64_t>(target, job->steps.size()); ++i) {
    *response.add_steps() = job->steps[i];
  }
  *response.mutable_status() = job->status;
  if (job->status.state() == v1::FAILED || job->status.state() == v1::CANCELLED) {
    return absl::AbortedError(absl::StrCat(job_id, " ", v1::JobState_Name(job->status.state()),
                                           ": ", job->status.reason()));
  }
  return response;
}

absl::StatusOr<int64_t> Scheduler::Save(const std::string& job_id, const std::string& dir) {
  return RunControl(v1::RankCommand::SAVE, job_id, dir);
}

absl::StatusOr<int64_t> Scheduler::Export(const std::string& job_id, const std::string& dir) {
  std::string checkpoint;
  {
    absl::MutexLock lock(&mu_);
    const JobRecord* job = Find(job_id);
    if (job != nullptr && resident_ != job_id && exporter_ &&
        !job->status.spec().save_dir().empty()) {
      checkpoint = job->status.spec().save_dir();
    }
  }
  // A job no longer loaded: its saved checkpoint is the source (written by rank 0's
  // process, no collective, so the ranks need not stop).
  if (!checkpoint.empty()) return exporter_(checkpoint, dir);
  return RunControl(v1::RankCommand::EXPORT, job_id, dir);
}

absl::StatusOr<int64_t> Scheduler::RunControl(Kind kind, const std::string& job_id,
                                              const std::string& dir) {
  absl::MutexLock lock(&mu_);
  const JobRecord* job = Find(job_id);
  if (job == nullptr) return NoSuchJob(job_id);
  if (shutdown_requested_) return absl::UnavailableError("the daemons are shutting down");
  if (resident_ != job_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        job_id, " is ", v1::JobState_Name(job->status.state()),
        " and not loaded on the daemons: only the running or paused job, the last one that "
        "succeeded (until the next job starts) or one whose save failed (until it is released) "
        "can be saved or exported"));
  }
  auto control = std::make_shared<Control>();
  control->kind = kind;
  control->job_id = job_id;
  control->dir = dir;
  controls_.push_back(control);
  changed_.SignalAll();
  while (!control->done) changed_.Wait(&mu_);
  return control->result;
}

absl::Status Scheduler::Watch(const std::string& job_id, bool from_start,
                              const std::function<bool(const v1::JobEvent&)>& send,
                              const std::function<bool()>& cancelled) const {
  mu_.Lock();
  const JobRecord* job = Find(job_id);
  if (job == nullptr) {
    mu_.Unlock();
    return NoSuchJob(job_id);
  }
  size_t sent = from_start ? 0 : (job->steps.empty() ? 0 : job->steps.size() - 1);
  bool first = true;
  v1::JobState last_state = v1::JOB_STATE_UNSPECIFIED;
  while (true) {
    std::vector<v1::JobEvent> events;
    for (; sent < job->steps.size(); ++sent)
      *events.emplace_back().mutable_step() = job->steps[sent];
    if (first || job->status.state() != last_state) {
      *events.emplace_back().mutable_status() = job->status;
      last_state = job->status.state();
      first = false;
    }
    const bool ended = v1::HasEnded(last_state);
    mu_.Unlock();  // never write to a slow client while holding the table
    for (const auto& e : events) {
      if (!send(e)) return absl::CancelledError("the watcher went away");
    }
    if (ended) return absl::OkStatus();
    if (cancelled()) return absl::CancelledError("the watcher went away");
    mu_.Lock();
    // Woken by any change; at least every 250 ms to notice a cancelled watcher.
    if (job->steps.size() <= sent && job->status.state() == last_state) {
      changed_.WaitWithTimeout(&mu_, absl::Milliseconds(250));
    }
  }
}

v1::GetMemoryStatsResponse Scheduler::Memory() const {
  absl::MutexLock lock(&mu_);
  return memory_;
}

v1::HealthResponse Scheduler::Health() const {
  absl::MutexLock lock(&mu_);
  v1::HealthResponse h;
  h.set_world_size(world_size_);
  h.set_launcher(launcher_);
  h.set_queued_jobs(static_cast<int32_t>(queue_.size()));
  if (!resident_.empty() && IsActive(jobs_.at(resident_).status.state()))
    h.set_active_job_id(resident_);
  h.set_uptime_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  h.set_stalled(StallLocked());
  return h;
}

// A step that has run more than 5x the median of the job's last 20 steps (and at least
// stall_floor_s_) is reported as stalled; the collective timeout ends it if a rank is gone.
std::string Scheduler::StallLocked() const {
  if (!step_in_flight_ || resident_.empty()) return "";
  const JobRecord& job = jobs_.at(resident_);
  std::vector<double> recent;
  for (size_t i = job.steps.size() > 20 ? job.steps.size() - 20 : 0; i < job.steps.size(); ++i)
    recent.push_back(job.steps[i].step_seconds());
  if (recent.empty()) return "";
  std::nth_element(recent.begin(), recent.begin() + recent.size() / 2, recent.end());
  const double median = recent[recent.size() / 2];
  const double running =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - step_started_).count();
  if (running < std::max(stall_floor_s_, 5 * median)) return "";
  return absl::StrFormat(
      "%s step %d has run %.0f s (its recent steps took %.2f s): a rank may "
      "have stopped; the collective timeout ends it if so",
      resident_, job.status.steps_done() + 1, running, median);
}

void Scheduler::Preempt(const std::string& cause) {
  absl::MutexLock lock(&mu_);
  if (!preempt_cause_.empty()) return;
  preempt_cause_ = cause;
  shutdown_requested_ = true;
  changed_.SignalAll();
}

void Scheduler::ShutdownWhenDone() {
  absl::MutexLock lock(&mu_);
  shutdown_when_done_ = true;
  changed_.SignalAll();
}

void Scheduler::RequestShutdown() {
  absl::MutexLock lock(&mu_);
  shutdown_requested_ = true;
  changed_.SignalAll();
}

void Scheduler::Close(const std::string& reason) {
  absl::MutexLock lock(&mu_);
  shutdown_requested_ = true;
  for (auto& [id, job] : jobs_) {
    if (!v1::HasEnded(job.status.state())) FinishJob(job, v1::FAILED, reason);
  }
  queue_.clear();
  resident_.clear();
  for (auto& control : controls_) {
    control->result = absl::UnavailableError(reason);
    control->done = true;
  }
  controls_.clear();
  if (running_control_ != nullptr) {
    running_control_->result = absl::UnavailableError(reason);
    running_control_->done = true;
    running_control_ = nullptr;
  }
  changed_.SignalAll();
}

bool Scheduler::shutting_down() const {
  absl::MutexLock lock(&mu_);
  return shutdown_requested_;
}

void Scheduler::FinishJob(JobRecord& job, v1::JobState state, const std::string& reason) {
  job.status.set_state(state);
  job.status.set_reason(reason);
  job.status.set_finished_unix(Now());
  job.credits = 0;
  Journalize(job, /*durable=*/true);
}

void Scheduler::Journalize(const JobRecord& job, bool durable) {
  if (journal_ != nullptr) journal_->Record(job.status, durable);
}

void Scheduler::AttachJournal(std::unique_ptr<Journal> journal,
                              const std::vector<v1::JobStatus>& past) {
  absl::MutexLock lock(&mu_);
  journal_ = std::move(journal);
  for (const v1::JobStatus& status : past) {
    if (jobs_.count(status.job_id())) continue;
    JobRecord& job = jobs_[status.job_id()];
    job.status = status;
    order_.push_back(status.job_id());
    // "job-7" -> ids continue from 8.
    const std::string& id = status.job_id();
    if (id.rfind("job-", 0) == 0) {
      next_id_ = std::max<int64_t>(next_id_, std::atoll(id.c_str() + 4) + 1);
    }
    // An INTERRUPTED job is final from now on: say so in the journal too.
    if (status.state() == v1::INTERRUPTED) Journalize(job, /*durable=*/true);
  }
}

v1::RankCommand Scheduler::Next() {
  absl::MutexLock lock(&mu_);
  while (true) {
    v1::RankCommand command = NextLocked();
    changed_.SignalAll();  // NextLocked may have ended jobs or answered controls
    step_in_flight_ = command.kind() == v1::RankCommand::STEP;
    step_started_ = std::chrono::steady_clock::now();
    if (command.kind() != v1::RankCommand::KIND_UNSPECIFIED) return command;
    changed_.Wait(&mu_);
  }
}

v1::RankCommand Scheduler::NextLocked() {
  if (!memory_taken_) return Command(v1::RankCommand::MEMORY, "");
  // A save or export asked for a job that is no longer loaded is answered here.
  while (!controls_.empty() && controls_.front()->job_id != resident_) {
    auto control = controls_.front();
    controls_.pop_front();
    control->result = absl::FailedPreconditionError(
        absl::StrCat(control->job_id, " was unloaded before it could be saved or exported"));
    control->done = true;
  }
  if (!resident_.empty()) {
    if (!controls_.empty()) {
      running_control_ = controls_.front();
      controls_.pop_front();
      v1::RankCommand c = Command(running_control_->kind, resident_);
      c.set_dir(running_control_->dir);
      return c;
    }
    return CommandForResident(jobs_.at(resident_));
  }
  if (shutdown_requested_) {
    for (const auto& id : queue_) {
      FinishJob(jobs_.at(id), v1::CANCELLED,
                preempt_cause_.empty() ? "the daemons shut down"
                                       : absl::StrCat("the daemons were stopped by ",
                                                      preempt_cause_, " before it started"));
    }
    queue_.clear();
    return Command(v1::RankCommand::SHUTDOWN, "");
  }
  if (!queue_.empty()) {
    const std::string id = queue_.front();
    queue_.pop_front();
    v1::RankCommand c = Command(v1::RankCommand::START, id);
    *c.mutable_spec() = jobs_.at(id).status.spec();
    return c;
  }
  if (shutdown_when_done_) return Command(v1::RankCommand::SHUTDOWN, "");
  return Command(v1::RankCommand::KIND_UNSPECIFIED, "");
}

// `job` is the resident one.
v1::RankCommand Scheduler::CommandForResident(JobRecord& job) {
  const std::string& id = job.status.job_id();
  const v1::JobState state = job.status.state();
  if (v1::HasEnded(state)) {
    // A job whose save failed holds the daemons until it is saved elsewhere or released;
    // one that succeeded (or was saved since) stays loaded while nothing else wants them.
    const bool stopping = shutdown_requested_ || shutdown_when_done_;
    const bool keep =
        !stopping &&
        (job.holding || ((state == v1::SUCCEEDED || state == v1::SAVE_FAILED) && queue_.empty()));
    return keep ? Command(v1::RankCommand::KIND_UNSPECIFIED, "")
                : Command(v1::RankCommand::FINISH, id);
  }
  if (!preempt_cause_.empty()) {
    // Stopped from outside (Slurm's time limit, preemption): save where the job saves,
    // then end it as PREEMPTED, resumable from that checkpoint.
    const auto& spec = job.status.spec();
    if (!spec.save_dir().empty() && !job.preempt_saved) {
      job.preempt_saved = true;
      v1::RankCommand c = Command(v1::RankCommand::SAVE, id);
      c.set_dir(spec.save_dir());
      return c;
    }
    FinishJob(job, v1::PREEMPTED,
              spec.save_dir().empty()
                  ? absl::StrCat("stopped by ", preempt_cause_, " after step ",
                                 job.status.steps_done(), "; no save_dir, nothing saved")
                  : absl::StrCat("stopped by ", preempt_cause_, " after step ",
                                 job.status.steps_done(), "; checkpoint in ", spec.save_dir(),
                                 ": resubmit with --resume ", spec.save_dir()));
    return Command(v1::RankCommand::FINISH, id);
  }
  if (job.cancel_requested || shutdown_requested_) {
    FinishJob(job, v1::CANCELLED,
              job.cancel_requested ? "cancelled by CancelJob" : "the daemons shut down");
    return Command(v1::RankCommand::FINISH, id);
  }
  if (job.status.steps_done() >= job.status.steps_total()) {
    const auto& spec = job.status.spec();
    if (!spec.save_dir().empty() && !job.saved_on_success) {
      v1::RankCommand c = Command(v1::RankCommand::SAVE, id);
      c.set_dir(spec.save_dir());
      return c;
    }
    if (!spec.export_hf_dir().empty() && !job.exported_on_success) {
      v1::RankCommand c = Command(v1::RankCommand::EXPORT, id);
      c.set_dir(spec.export_hf_dir());
      return c;
    }
    MaybeSucceed(job);
    return CommandForResident(job);
  }
  if (state == v1::RUNNING || job.credits > 0) {
    v1::RankCommand c = Command(v1::RankCommand::STEP, id);
    // Another step follows at once unless this is the last (then the job may stay loaded
    // with nothing to do).
    c.set_next_follows(state == v1::RUNNING &&
                       job.status.steps_done() + 1 < job.status.steps_total());
    return c;
  }
  return Command(v1::RankCommand::KIND_UNSPECIFIED, "");  // paused, waiting for StepJob
}

// The job's own save (or export) at its end failed: its trained state stays loaded, and
// holds the daemons, until it is saved elsewhere or released (not in one-shot training,
// where nobody can ask: the daemons exit, the previous checkpoint untouched).
void Scheduler::FailSave(JobRecord& job, bool save, const std::string& dir,
                         const std::string& why) {
  const std::string& id = job.status.job_id();
  const bool can_ask = !shutdown_when_done_ && !shutdown_requested_;
  // Without a checkpoint of the final state the export is the only copy of the weights.
  job.holding = can_ask && (save || job.status.spec().save_dir().empty());
  std::string reason = absl::StrCat(save ? "saving to " : "exporting to ", dir, " failed: ", why,
                                    save ? "; whatever was in it before is as it was" : "");
  if (job.holding) {
    absl::StrAppend(&reason, "; the trained state (step ", job.status.steps_done(),
                    ") stays loaded: save it elsewhere with `zeroctl checkpoint ", id,
                    " --dir OTHER`",
                    save ? "" : absl::StrCat(" or `zeroctl export ", id, " --hf OTHER`"),
                    ", or release it with `zeroctl cancel ", id, "`");
  } else if (!save && !job.status.spec().save_dir().empty()) {
    absl::StrAppend(&reason, "; the checkpoint in ", job.status.spec().save_dir(),
                    " holds the trained state (`zerod --export-hf OTHER --from-checkpoint ",
                    job.status.spec().save_dir(), "`)");
  }
  FinishJob(job, v1::SAVE_FAILED, reason);
}

// A periodic save that failed is reported with its step and training goes on; so many in
// a row end the job as a failed save does.
void Scheduler::CountPeriodicSave(JobRecord& job, const v1::StepMetrics& step) {
  if (!step.saved_checkpoint().empty()) job.failed_saves_in_row = 0;
  if (step.checkpoint_error().empty()) return;
  if (++job.failed_saves_in_row < kFailedSavesInARow) return;
  FailSave(job, /*save=*/true, job.status.spec().save_dir(),
           absl::StrCat(kFailedSavesInARow, " periodic saves in a row failed, the last after step ",
                        step.step(), ": ", step.checkpoint_error()));
}

// An active job that ran all its steps and its on-success save and
// export has SUCCEEDED (said at once, so watchers need not wait for the next command).
void Scheduler::MaybeSucceed(JobRecord& job) {
  const auto& spec = job.status.spec();
  if (IsActive(job.status.state()) && job.status.steps_done() >= job.status.steps_total() &&
      (spec.save_dir().empty() || job.saved_on_success) &&
      (spec.export_hf_dir().empty() || job.exported_on_success)) {
    FinishJob(job, v1::SUCCEEDED, "");
  }
}

void Scheduler::Complete(const v1::RankCommand& command, const CommandOutcome& outcome,
                         const std::vector<v1::RankMemory>& memory) {
  absl::MutexLock lock(&mu_);
  changed_.SignalAll();
  step_in_flight_ = false;
  JobRecord* job = Find(command.job_id());
  memory_.clear_ranks();
  for (const auto& m : memory) *memory_.add_ranks() = m;
  memory_.set_job_id(resident_);
  memory_.set_taken_unix(Now());
  memory_taken_ = true;
  switch (command.kind()) {
    case v1::RankCommand::START:
      if (!outcome.status.ok()) {
        FinishJob(*job, v1::FAILED, std::string(outcome.status.message()));
        break;
      }
      resident_ = command.job_id();
      job->status.set_state(command.spec().start_paused() ? v1::PAUSED : v1::RUNNING);
      job->status.set_started_unix(Now());
      job->status.set_num_parameters(outcome.num_parameters);
      job->status.set_device(outcome.device);
      job->status.set_dtype(outcome.dtype);
      job->status.set_steps_done(outcome.steps_done);
      memory_.set_job_id(resident_);
      break;
    case v1::RankCommand::STEP:
      if (!outcome.status.ok()) {
        FinishJob(*job, v1::FAILED, std::string(outcome.status.message()));
        break;
      }
      job->steps.push_back(outcome.metrics);
      *job->status.mutable_last() = outcome.metrics;
      job->status.set_steps_done(outcome.metrics.step());
      if (job->credits > 0) --job->credits;
      CountPeriodicSave(*job, outcome.metrics);
      break;
    case v1::RankCommand::SAVE:
    case v1::RankCommand::EXPORT: {
      const bool save = command.kind() == v1::RankCommand::SAVE;
      if (running_control_ != nullptr) {  // asked for by SaveCheckpoint / ExportHf
        running_control_->result = outcome.status.ok() ? absl::StatusOr<int64_t>(outcome.steps_done)
                                                       : absl::StatusOr<int64_t>(outcome.status);
        running_control_->done = true;
        running_control_ = nullptr;
        if (outcome.status.ok() && job->holding &&
            (save || job->status.spec().save_dir().empty())) {
          // The state a failed save held on to is safe now: the daemons may move on.
          job->holding = false;
          job->status.set_reason(absl::StrCat(job->status.reason(), "; then ",
                                              save ? "saved to " : "exported to ", command.dir(),
                                              " at step ", outcome.steps_done));
        }
        break;
      }
      // The job's own save_dir / export_hf_dir on success (or on preemption).
      if (!job->preempt_saved) (save ? job->saved_on_success : job->exported_on_success) = true;
      if (!outcome.status.ok()) {
        if (job->preempt_saved) {
          FinishJob(*job, v1::FAILED,
                    absl::StrCat("stopped by ", preempt_cause_, "; saving to ", command.dir(),
                                 " failed: ", outcome.status.message()));
        } else {
          FailSave(*job, save, command.dir(), std::string(outcome.status.message()));
        }
      }
      break;
    }
    case v1::RankCommand::FINISH:
      resident_.clear();
      memory_.set_job_id("");
      break;
    default:
      break;
  }
  if (job != nullptr) {
    MaybeSucceed(*job);
    memory_.set_step(job->status.steps_done());
    Journalize(*job, /*durable=*/command.kind() != v1::RankCommand::STEP);
  }
}

}  // namespace zerod::coordinator
