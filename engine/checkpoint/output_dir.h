// What a save or an export may replace. zerod writes its outputs (a sharded checkpoint, a
// Hugging Face export) into a directory the user names, and a checkpoint save swaps the
// whole directory (checkpoint_dir.h): whatever was in it goes. So a target must hold
// nothing but what zerod itself writes there; anything else (a user's notes, a model, the
// daemons' journal) makes the save refuse before it deletes a byte. The same check runs
// when a job is submitted (engine/config/job_spec.h), so a bad target fails the job
// before its first step, not after its last.
//
// Not here: which directory the job's own files are (the model, the data, the daemons'
// state dir); job_spec.cpp refuses targets that are or hold those.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace zerod::checkpoint {

enum class OutputKind {
  // A sharded checkpoint (checkpoint_dir.h): zerod_checkpoint.json, config.json, the rank
  // files, and the periodic checkpoints step_NNNNNNNN (each a checkpoint itself), with
  // the .partial / .old directories a save keeps beside them while it swaps.
  kCheckpoint,
  // A Hugging Face directory (hf_export.h): config.json, model*.safetensors, the index,
  // the tokenizer files copied from the model, and the .partial files of an export.
  kHfExport,
};

// OK when a `kind` output may be written to `dir`: it does not exist, it is an empty
// directory, or it holds only what zerod writes there. For a checkpoint the directories a
// save puts beside it (DIR.partial, DIR.old) are checked too, since a save removes them.
// FailedPrecondition otherwise, naming the directory, up to five entries that are not
// zerod's, and the way out (another directory, or move those away). No side effects.
absl::Status CheckReplaceable(const std::string& dir, OutputKind kind);

// The files beside a model's config.json that make it a model directory transformers'
// AutoTokenizer and generate() load: a save carries them into its checkpoint and an
// export into its directory (whichever the source has).
const std::vector<std::string>& CompanionFiles();

// An export's weights: model.safetensors, model-00001-of-00003.safetensors, the index.
bool IsExportWeightsFile(std::string_view name);

// The newest complete checkpoint a save directory holds: `dir` itself when it is a
// checkpoint (its zerod_checkpoint.json is readable), or one of its periodic checkpoints
// (step_NNNNNNNN with a zerod_checkpoint.json), whichever is at the latest step. nullopt
// when there is none. Steps are read from the metadata; a damaged one is passed over.
std::optional<std::string> NewestCheckpoint(const std::string& dir);

}  // namespace zerod::checkpoint
