// The layout of a zerod checkpoint directory, and how one is written without ever
// leaving a half-written checkpoint where a good one was:
//
//   DIR/zerod_checkpoint.json          what the job was doing (step, schedule, scaler)
//   DIR/config.json                    the model's config, so DIR is self-describing
//   DIR/rank_00000_of_00002.safetensors  each rank's master shards and Adam moments
//
// Every rank writes into DIR.partial; rank 0 then swaps it in (DIR -> DIR.old,
// DIR.partial -> DIR, move DIR.old's periodic checkpoints into DIR, remove DIR.old). A
// crash before the swap leaves DIR as it was. A crash inside it leaves the last complete
// checkpoint in DIR.old: reading DIR then says so, and the next Publish into DIR finishes
// or undoes the interrupted one before anything is removed. The ranks must share a file
// system (as with DeepSpeed's checkpoints).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace zerod::checkpoint {

// The metadata file that makes a directory a zerod checkpoint.
inline constexpr char kMetaFileName[] = "zerod_checkpoint.json";

struct CheckpointMeta {
  int64_t step = 0;          // optimizer steps done
  int64_t lr_iteration = 0;  // steps the LR schedule has advanced (skipped ones excluded)
  int world_size = 1;
  int64_t num_parameters = 0;
  std::string dtype;  // compute dtype of the job
  // fp16 dynamic loss scaler.
  double loss_scale = 1.0;
  int hysteresis_left = 0;
  int64_t scaler_iteration = 0;
  int64_t last_overflow_iteration = -1;
};

std::string StagingDir(const std::string& dir);
std::string RankStateFile(const std::string& dir, int rank, int world_size);
// Rank 0, before any rank writes: an empty DIR.partial. Refuses (FailedPrecondition,
// removing nothing) when DIR, DIR.partial or DIR.old holds what zerod did not write
// (output_dir.h).
absl::Status PrepareStaging(const std::string& dir);
// Rank 0, after every rank wrote: the metadata, config.json and the model's tokenizer
// files (output_dir.h CompanionFiles, those it has) into DIR.partial.
absl::Status WriteMeta(const std::string& staging, const CheckpointMeta& meta,
                       const std::string& model_dir);
// Rank 0, last: DIR.partial becomes DIR, after the same check as PrepareStaging.
absl::Status Publish(const std::string& dir);
// Where Publish keeps the previous DIR during the swap: DIR.old.
std::string PreviousDir(const std::string& dir);
// Completes a Publish a crash cut short (the first step of every Publish): DIR missing
// and DIR.old there -> DIR.old becomes DIR again; both there -> DIR.old's periodic
// checkpoints move into DIR, then DIR.old goes. Nothing to do without DIR.old.
absl::Status FinishInterruptedPublish(const std::string& dir);
// Periodic checkpoints of a job live in SAVE_DIR/step_NNNNNNNN (zero-padded to 8 digits;
// sorted by their step, so longer names past step 99999999 sort right too).
std::string PeriodicCheckpointDir(const std::string& save_dir, int64_t step);
// The step of a periodic checkpoint's directory name ("step_" and 8 to 18 digits);
// nullopt for any other name (a .partial is still being written).
std::optional<int64_t> PeriodicStep(const std::string& name);
// The periodic checkpoint directories inside `save_dir`, oldest first; none when it
// cannot be listed.
std::vector<std::string> PeriodicCheckpointDirs(const std::string& save_dir);
// Removes all but the newest `keep` periodic checkpoints in `save_dir` (keep >= 1); a
// step_ directory that holds files zerod did not write is left alone.
absl::Status KeepNewestCheckpoints(const std::string& save_dir, int64_t keep);
// Reads DIR/zerod_checkpoint.json; errors name the file and the field.
absl::StatusOr<CheckpointMeta> ReadMeta(const std::string& dir);
// ReadMeta without the file: parses zerod_checkpoint.json's `text`, `path` naming it in
// errors (InvalidArgument). No I/O (tests, fuzzers).
absl::StatusOr<CheckpointMeta> ParseMeta(const std::string& text, const std::string& path);

}  // namespace zerod::checkpoint
