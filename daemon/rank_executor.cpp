#include "daemon/rank_executor.h"

#include "absl/strings/str_cat.h"
#include "daemon/stop_signals.h"
#include "engine/comm/communicator.h"
#include "engine/comm/watchdog.h"
#include "engine/util/proc_stats.h"
#include "proto/wire.h"

namespace zerod::daemon {

v1::RankReport RankExecutor::Run(const v1::RankCommand& command) {
  v1::RankReport report;
  absl::Status status;
  // What the watchdog and the activity board say this rank was last doing.
  doing_ = absl::StrCat(v1::RankCommand::Kind_Name(command.kind()), " ", command.job_id());
  if (command.kind() == v1::RankCommand::STEP && job_ != nullptr) {
    absl::StrAppend(&doing_, " step ", job_->steps_done() + 1);
  }
  comm::MarkProgress(doing_.c_str());
  switch (command.kind()) {
    case v1::RankCommand::START:
      status = Start(command, report);
      break;
    case v1::RankCommand::FINISH:
    case v1::RankCommand::SHUTDOWN:
      job_.reset();  // frees the job's shards, pools and GPU memory
      job_id_.clear();
      break;
    case v1::RankCommand::MEMORY:
    case v1::RankCommand::KIND_UNSPECIFIED:
      break;
    default:
      if (job_ == nullptr || command.job_id() != job_id_) {
        status = absl::FailedPreconditionError(
            absl::StrCat("rank ", comm_->rank(), " has no job ", command.job_id(), " loaded"));
      } else if (command.kind() == v1::RankCommand::STEP) {
        comm::MaybeStallForTest(comm_->rank(), job_->steps_done() + 1);
        auto metrics = job_->Step();
        if (metrics.ok()) *report.mutable_metrics() = wire::ToProto(*metrics);
        status = metrics.status();
      } else if (command.kind() == v1::RankCommand::SAVE) {
        status = job_->SaveCheckpoint(command.dir());
      } else if (command.kind() == v1::RankCommand::EXPORT) {
        status = job_->ExportHf(command.dir());
      } else {
        status = absl::InvalidArgumentError(absl::StrCat("unknown rank command ", command.kind()));
      }
  }
  if (!status.ok()) {
    report.set_error(std::string(status.message()));
    report.set_error_code(static_cast<int>(status.code()));
  }
  if (job_ != nullptr) report.set_steps_done(job_->steps_done());
  *report.mutable_memory() = Memory();
  report.set_stop_signal(StopSignal());
  return report;
}

absl::Status RankExecutor::Start(const v1::RankCommand& command, v1::RankReport& report) {
  job_.reset();  // at most one job's memory at a time
  auto job = Job::Create(wire::FromProto(command.spec()), comm_);
  if (!job.ok()) return job.status();
  job_ = std::move(job).value();
  job_id_ = command.job_id();
  report.set_num_parameters(job_->info().num_parameters);
  report.set_total_steps(job_->info().total_steps);
  report.set_device(job_->info().device);
  report.set_dtype(job_->info().dtype);
  return absl::OkStatus();
}

v1::RankMemory RankExecutor::Memory() const {
  const std::string device = comm_->device() >= 0 ? absl::StrCat("cuda:", comm_->device()) : "cpu";
  MemoryStats m;
  m.rss_bytes = ResidentSetBytes();
  if (job_ != nullptr) m = job_->Memory();
  return wire::ToProto(m, comm_->rank(), device);
}

}  // namespace zerod::daemon
