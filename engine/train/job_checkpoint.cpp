// A training job's checkpoints (job_checkpoint.h): save, periodic save, resume, and the
// metadata that carries the job's progress.
#include "engine/train/job_checkpoint.h"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/checkpoint/checkpoint_dir.h"
#include "engine/checkpoint/output_dir.h"
#include "engine/models/safetensors.h"
#include "engine/util/durable.h"
#include "engine/util/files.h"
#include "engine/util/status_macros.h"
#include "engine/weights/rank_state.h"

namespace zerod::train {
namespace {

checkpoint::CheckpointMeta Meta(const CheckpointedJob& job, const TrainingProgress& progress) {
  checkpoint::CheckpointMeta m;
  m.step = progress.steps_done;
  m.lr_iteration = progress.lr_iteration;
  m.world_size = job.comm->world_size();
  m.num_parameters = job.engine->num_parameters();
  m.dtype = DTypeName(job.compute_dtype);
  m.loss_scale = progress.scaler.scale;
  m.hysteresis_left = progress.scaler.hysteresis_left;
  m.scaler_iteration = progress.scaler.iteration;
  m.last_overflow_iteration = progress.scaler.last_overflow_iteration;
  return m;
}

}  // namespace

absl::Status SaveJobCheckpoint(const CheckpointedJob& job, const TrainingProgress& progress,
                               const std::string& dir) {
  comm::Communicator& comm = *job.comm;
  const bool leader = comm.rank() == 0;
  const std::string staging = checkpoint::StagingDir(dir);
  RETURN_IF_ERROR(
      comm::AgreeOnStatus(comm, leader ? checkpoint::PrepareStaging(dir) : absl::OkStatus()));
  // Each rank syncs its own shard before the agreement (util/durable.h): rank 0's rename
  // then publishes only data that is on the disk, whichever host wrote it.
  const std::string shard = checkpoint::RankStateFile(staging, comm.rank(), comm.world_size());
  absl::Status written = weights::SaveState(*job.engine, shard);
  if (written.ok()) written = SyncPath(shard);
  absl::Status saved = comm::AgreeOnStatus(comm, written);
  if (saved.ok() && leader) {
    saved = checkpoint::WriteMeta(staging, Meta(job, progress), job.spec->model_dir);
    if (saved.ok()) saved = checkpoint::Publish(dir);
  }
  saved = comm::AgreeOnStatus(comm, saved);
  // Every rank is past its writes (the agreement above): a failed save's files go at
  // once, so a full disk is not kept full by them.
  if (!saved.ok() && leader) (void)RemoveTree(staging);
  return saved;
}

absl::Status RotateCheckpoints(const CheckpointedJob& job, const std::string& keep) {
  const JobSpec& spec = *job.spec;
  absl::Status rotated;
  if (job.comm->rank() == 0) {
    const std::vector<std::string> periodic = checkpoint::PeriodicCheckpointDirs(spec.save_dir);
    const size_t kept = static_cast<size_t>(std::max<int64_t>(1, spec.keep_checkpoints));
    // Oldest first: all but the newest `kept` go, and `keep` stays wherever it is.
    for (size_t i = 0; i + kept < periodic.size() && rotated.ok(); ++i) {
      if (periodic[i] == keep) continue;
      // Only a checkpoint zerod wrote goes (a step_ directory of the user's own stays).
      if (!checkpoint::CheckReplaceable(periodic[i], checkpoint::OutputKind::kCheckpoint).ok())
        continue;
      if (absl::Status s = RemoveTree(periodic[i]); !s.ok()) {
        rotated = absl::InternalError(absl::StrCat("removing the old checkpoint: ", s.message()));
      }
    }
  }
  return comm::AgreeOnStatus(*job.comm, rotated);
}

void SavePeriodically(const CheckpointedJob& job, const TrainingProgress& progress,
                      StepMetrics* metrics, const std::string& keep) {
  const JobSpec& spec = *job.spec;
  const int64_t step = progress.steps_done;
  if (spec.save_every <= 0 || spec.save_dir.empty() || step % spec.save_every != 0 ||
      step >= spec.steps) {
    return;
  }
  const std::string dir = checkpoint::PeriodicCheckpointDir(spec.save_dir, step);
  absl::Status saved = SaveJobCheckpoint(job, progress, dir);
  if (saved.ok()) {
    metrics->saved_checkpoint = dir;
    saved = RotateCheckpoints(job, keep);
  }
  if (!saved.ok()) metrics->checkpoint_error = std::string(saved.message());
  if (job.comm->rank() != 0) return;
  if (!metrics->checkpoint_error.empty()) {
    const std::optional<std::string> previous = checkpoint::NewestCheckpoint(spec.save_dir);
    std::fprintf(stderr, "zerod: warning: the periodic save after step %lld failed: %s; %s\n",
                 static_cast<long long>(step), metrics->checkpoint_error.c_str(),
                 previous ? ("the newest complete checkpoint is still " + *previous).c_str()
                          : "there is no complete checkpoint yet");
  } else {
    std::fprintf(stderr, "zerod: saved %s\n", dir.c_str());
  }
}

absl::StatusOr<TrainingProgress> ResumeJobCheckpoint(const CheckpointedJob& job,
                                                     const std::string& dir) {
  comm::Communicator& comm = *job.comm;
  ASSIGN_OR_RETURN(checkpoint::CheckpointMeta meta, checkpoint::ReadMeta(dir));
  if (meta.num_parameters != job.engine->num_parameters()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "resume_from: ", dir, " holds a model of ", meta.num_parameters,
        " parameters and --model has ", job.engine->num_parameters(), ": use the same model"));
  }
  if (meta.world_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("resume_from: ", dir, " names world size ", meta.world_size));
  }
  // Any world size: every rank reads the slices of the old ranks' files it now owns.
  // Each old file's checksum is verified by one rank (old rank k by rank k mod M), so
  // the files are read whole once in all, not once per rank.
  std::vector<std::string> files;
  absl::Status verified;
  for (int k = 0; k < meta.world_size; ++k) {
    files.push_back(checkpoint::RankStateFile(dir, k, meta.world_size));
    if (k % comm.world_size() != comm.rank() || !verified.ok()) continue;
    auto file = models::SafetensorsFile::Open(files.back());
    verified = file.ok() ? (*file)->VerifyChecksum() : file.status();
  }
  RETURN_IF_ERROR(comm::AgreeOnStatus(comm, verified));
  RETURN_IF_ERROR(weights::LoadStateFrom(*job.engine, files, /*verify=*/false));
  TrainingProgress progress;
  progress.steps_done = meta.step;
  progress.lr_iteration = meta.lr_iteration;
  progress.scaler = {meta.loss_scale, meta.hysteresis_left, meta.scaler_iteration,
                     meta.last_overflow_iteration};
  return progress;
}

}  // namespace zerod::train
