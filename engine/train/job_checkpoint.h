// A training job's checkpoints: the save every rank takes part in (each rank's shards,
// then rank 0's metadata and the publish), the periodic saves into
// save_dir/step_NNNNNNNN, and the resume that reads one back at any world size.
// Not the directory rules (engine/checkpoint/checkpoint_dir.h: staging, publish, what
// may be replaced) nor the state file's layout (engine/weights/rank_state.h).
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/api.h"
#include "engine/comm/communicator.h"
#include "engine/optim/loss_scaler.h"
#include "engine/util/dtype.h"
#include "engine/zero/zero_engine.h"

namespace zerod::train {

// How far a job has trained, beside its engine's state: what a checkpoint's metadata
// holds so that the steps after a resume are the ones an uninterrupted job would take.
struct TrainingProgress {
  int64_t steps_done = 0;    // optimizer steps done
  int64_t lr_iteration = 0;  // steps the LR schedule has advanced (skipped ones excluded)
  optim::LossScaler::State scaler;
};

// The parts of a job its checkpoints read and write; the job owns them all and keeps
// them alive across every call below.
struct CheckpointedJob {
  const JobSpec* spec;       // model_dir (the companion files), save_dir, save_every, ...
  DType compute_dtype;       // recorded in the metadata
  zero::ZeroEngine* engine;  // the shards
  comm::Communicator* comm;  // every function below is collective over it
};

// A checkpoint of `job` at `progress` in `dir`, written beside it and published whole
// (checkpoint_dir.h). Every rank calls it and gets the same outcome; a failed save
// leaves what `dir` held before and removes its own partial files.
absl::Status SaveJobCheckpoint(const CheckpointedJob& job, const TrainingProgress& progress,
                               const std::string& dir);

// After a step: every save_every steps (not after the last: the caller saves that one to
// save_dir), a checkpoint in save_dir/step_NNNNNNNN, then rank 0 keeps only the newest
// keep_checkpoints of them. A failed save does not fail the step: the training state is
// whole, the previous checkpoints are as they were, and the next period tries again;
// `metrics` says what happened (saved_checkpoint or checkpoint_error), and the scheduler
// ends a job whose saves keep failing.
// `keep` (a checkpoint directory, or empty) is never rotated out: save_best's.
void SavePeriodically(const CheckpointedJob& job, const TrainingProgress& progress,
                      StepMetrics* metrics, const std::string& keep = "");

// Rank 0 removes all but the newest keep_checkpoints periodic checkpoints of save_dir, never
// `keep` (save_best's, beside those; empty: none) nor a step_ directory holding what zerod
// did not write. Every rank calls it and gets rank 0's outcome.
absl::Status RotateCheckpoints(const CheckpointedJob& job, const std::string& keep);

// Loads a checkpoint that SaveJobCheckpoint wrote, at any world size, into `job`'s
// engine (weights and optimizer state) and returns the progress it was saved at. A
// model of another size is refused by name. Every rank calls it.
absl::StatusOr<TrainingProgress> ResumeJobCheckpoint(const CheckpointedJob& job,
                                                     const std::string& dir);

}  // namespace zerod::train
