// Every host must see the job's paths as the same files (issue 27): the model directory,
// the data file and the checkpoint directories are one path on a file system all hosts
// share. Checked at job start by every rank, so a node-local path fails at once naming the
// host and rank that sees something else, not later as a rank that cannot open a file or
// a checkpoint missing one host's shards.
//
// Inputs (model, data, resume) are compared by a fingerprint of what rank 0 reads (sizes
// and CRC-32C of config.json, of the data file's first MiB, of the checkpoint's metadata);
// outputs (save_dir, export_hf) by a file rank 0 writes into the directory (or its nearest
// existing parent) and every rank reads back. Torch-free.
#pragma once

#include "absl/status/status.h"
#include "engine/api.h"
#include "engine/comm/communicator.h"

namespace zerod::train {

// A collective: the same answer on every rank. FailedPrecondition naming the field, the
// path, the rank and host that disagree with rank 0 and what each saw.
absl::Status CheckSharedPaths(const JobSpec& spec, comm::Communicator& comm);

}  // namespace zerod::train
