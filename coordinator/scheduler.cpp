#include "coordinator/scheduler.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "engine/util/status_macros.h"
#include "proto/job_state.h"

namespace zerod::coordinator {
namespace {

double UnixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

Scheduler::Scheduler(int world_size, std::string launcher, double stall_floor_s)
    : world_size_(world_size),
      launcher_(std::move(launcher)),
      started_(std::chrono::steady_clock::now()),
      stall_floor_s_(stall_floor_s) {}

double Scheduler::Now() const { return UnixNow(); }

DaemonsView Scheduler::View() const { return {stop_, preempt_cause_, queue_.empty(), Now()}; }

void Scheduler::Stop(StopMode mode) {
  stop_ = std::max(stop_, mode);
  changed_.SignalAll();
}

JobRecord* Scheduler::Find(const std::string& job_id) {
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? nullptr : &it->second;
}
const JobRecord* Scheduler::Find(const std::string& job_id) const {
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? nullptr : &it->second;
}

absl::Status NoSuchJob(const std::string& job_id) {
  return absl::NotFoundError(
      absl::StrCat("job_id: no job '", job_id, "' (zeroctl list shows the jobs)"));
}

absl::StatusOr<std::string> Scheduler::Submit(const v1::JobSpec& spec) {
  absl::MutexLock lock(&mu_);
  if (Stopping()) return absl::UnavailableError("the daemons are shutting down");
  const std::string id = absl::StrCat("job-", next_id_++);
  JobRecord& job = jobs_[id];
  job.status.set_job_id(id);
  job.status.set_name(spec.name());
  job.status.set_steps_total(spec.steps());
  job.status.set_world_size(world_size_);
  job.status.set_submitted_unix(Now());
  *job.status.mutable_spec() = spec;
  EnterPhase(job, JobPhase::kQueued);
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
  const bool queued = job->phase == JobPhase::kQueued;
  const JobPhase before = job->phase;
  RETURN_IF_ERROR(RequestCancel(*job, Now()));
  if (queued) std::erase(queue_, job_id);
  if (job->phase != before && HasEnded(job->phase)) Journalize(*job, /*durable=*/true);
  changed_.SignalAll();
  return job->status;
}

absl::StatusOr<v1::StepJobResponse> Scheduler::StepPaused(const std::string& job_id,
                                                          int64_t steps) {
  absl::MutexLock lock(&mu_);
  JobRecord* job = Find(job_id);
  if (job == nullptr) return NoSuchJob(job_id);
  ASSIGN_OR_RETURN(const StepGrant grant, GrantSteps(*job, steps));
  const int64_t first = grant.first, target = grant.target;
  changed_.SignalAll();
  while (job->status.steps_done() < target && !HasEnded(job->phase)) {
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

absl::StatusOr<int64_t> Scheduler::RunControl(v1::RankCommand::Kind kind, const std::string& job_id,
                                              const std::string& dir) {
  absl::MutexLock lock(&mu_);
  const JobRecord* job = Find(job_id);
  if (job == nullptr) return NoSuchJob(job_id);
  if (Stopping()) return absl::UnavailableError("the daemons are shutting down");
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
  if (!resident_.empty() && IsActive(jobs_.at(resident_).phase)) h.set_active_job_id(resident_);
  h.set_uptime_seconds(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count());
  h.set_stalled(StallLocked());
  return h;
}

// A step that has run more than 5x the median of the job's last 20 steps (and at least
// stall_floor_s_) is reported as stalled; the collective timeout ends it if a rank is gone.
std::string Scheduler::StallLocked() const {
  if (in_flight_ != v1::RankCommand::STEP || resident_.empty()) return "";
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
  Stop(StopMode::kPreempt);
}

void Scheduler::ShutdownWhenDone() {
  absl::MutexLock lock(&mu_);
  Stop(StopMode::kWhenDone);
}

void Scheduler::RequestShutdown() {
  absl::MutexLock lock(&mu_);
  Stop(StopMode::kNow);
}

void Scheduler::Close(const std::string& reason) {
  absl::MutexLock lock(&mu_);
  Stop(StopMode::kNow);
  for (auto& [id, job] : jobs_) {
    if (HasEnded(job.phase)) continue;
    Finish(job, JobPhase::kFailed, reason, Now());
    Journalize(job, /*durable=*/true);
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
  return Stopping();
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
    job.phase = PhaseOnReplay(status.state());
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
    in_flight_ = command.kind();
    step_started_ = std::chrono::steady_clock::now();
    if (command.kind() != v1::RankCommand::KIND_UNSPECIFIED) return command;
    changed_.Wait(&mu_);
  }
}

v1::RankCommand Scheduler::NextLocked() {
  if (memory_.taken_unix() == 0) return RankCommandFor(v1::RankCommand::MEMORY, "");
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
      return RankCommandFor(running_control_->kind, resident_, running_control_->dir);
    }
    JobRecord& job = jobs_.at(resident_);
    const JobPhase before = job.phase;
    v1::RankCommand c = NextForResident(job, View());
    if (job.phase != before && HasEnded(job.phase)) Journalize(job, /*durable=*/true);
    return c;
  }
  if (Stopping()) {
    for (const auto& id : queue_) {
      JobRecord& job = jobs_.at(id);
      Finish(job, JobPhase::kCancelled,
             preempt_cause_.empty() ? "the daemons shut down"
                                    : absl::StrCat("the daemons were stopped by ", preempt_cause_,
                                                   " before it started"),
             Now());
      Journalize(job, /*durable=*/true);
    }
    queue_.clear();
    return RankCommandFor(v1::RankCommand::SHUTDOWN, "");
  }
  if (!queue_.empty()) {
    const std::string id = queue_.front();
    queue_.pop_front();
    JobRecord& job = jobs_.at(id);
    MarkStarting(job);
    v1::RankCommand c = RankCommandFor(v1::RankCommand::START, id);
    *c.mutable_spec() = job.status.spec();
    return c;
  }
  if (stop_ == StopMode::kWhenDone) return RankCommandFor(v1::RankCommand::SHUTDOWN, "");
  return RankCommandFor(v1::RankCommand::KIND_UNSPECIFIED, "");
}

void Scheduler::Complete(const v1::RankCommand& command, const CommandOutcome& outcome,
                         const std::vector<v1::RankMemory>& memory) {
  absl::MutexLock lock(&mu_);
  changed_.SignalAll();
  in_flight_ = v1::RankCommand::KIND_UNSPECIFIED;
  JobRecord* job = Find(command.job_id());
  memory_.clear_ranks();
  for (const auto& m : memory) *memory_.add_ranks() = m;
  memory_.set_job_id(resident_);
  memory_.set_taken_unix(Now());
  const DaemonsView daemons = View();
  switch (command.kind()) {
    case v1::RankCommand::START:
      // Loaded on the ranks even when it was cancelled meanwhile: FINISH unloads it.
      if (outcome.status.ok()) resident_ = command.job_id();
      OnStarted(*job, outcome, daemons);
      memory_.set_job_id(resident_);
      break;
    case v1::RankCommand::STEP:
      OnStep(*job, outcome, daemons);
      break;
    case v1::RankCommand::SAVE:
    case v1::RankCommand::EXPORT:
      if (running_control_ != nullptr) {  // asked for by SaveCheckpoint / ExportHf
        running_control_->result = outcome.status.ok() ? absl::StatusOr<int64_t>(outcome.steps_done)
                                                       : absl::StatusOr<int64_t>(outcome.status);
        running_control_->done = true;
        running_control_ = nullptr;
        OnSavedElsewhere(*job, command.kind(), command.dir(), outcome);
      } else {  // the job's own save_dir / export_hf_dir on success (or on preemption)
        OnOwnSaveOrExport(*job, command.kind(), command.dir(), outcome, daemons);
      }
      break;
    case v1::RankCommand::FINISH:
      resident_.clear();
      memory_.set_job_id("");
      break;
    default:
      break;
  }
  if (job != nullptr) {
    memory_.set_step(job->status.steps_done());
    Journalize(*job, /*durable=*/command.kind() != v1::RankCommand::STEP || HasEnded(job->phase));
  }
}

}  // namespace zerod::coordinator
