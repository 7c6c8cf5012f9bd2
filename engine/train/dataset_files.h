// A job that names a dataset file (.jsonl, .jsonl.gz, .json, .csv, .parquet: record_reader.h) as
// its data or evaluation data, as HF Trainer and TRL users do: rank 0 prepares it once into a
// sample file beside it (data/dataset_prep.h, PrepareCached: reused while the tokenizer, the
// template and the file are unchanged) and says what it holds; every rank then trains on
// that file. Not the formats (data/dataset_format.h) nor packing (data/packer.h).
#pragma once

#include "absl/status/status.h"
#include "engine/comm/communicator.h"
#include "engine/config/job_spec.h"

namespace zerod::train {

// Rewrites spec->data_path and spec->eval_data that are dataset files into their prepared
// sample files. Every rank calls it; rank 0 prepares and tells the others where; they open the
// same cached result. An error (a bad record: its file, line and field) is every rank's.
absl::Status PrepareDatasetFiles(JobSpec* spec, comm::Communicator& comm);

}  // namespace zerod::train
