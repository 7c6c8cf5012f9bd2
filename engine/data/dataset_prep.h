// A fine-tuning dataset file (record_reader.h) prepared for training: its records told
// apart (dataset_format.h), tokenized, and written as a sample file (sample_file.h). Used by
// `zerod --prepare-data` and, through PrepareCached, by the training job, which prepares a
// dataset once and reuses the result while nothing it depends on has changed. Torch-free.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "engine/data/dataset_format.h"
#include "engine/data/token_dataset.h"

namespace zerod::data {

struct DatasetSummary {
  DatasetFormat format = DatasetFormat::kText;
  int64_t records = 0;                     // read (-1: unknown, a reused preparation)
  int64_t samples = 0;                     // written
  int64_t tokens = 0;                      // in the samples
  int64_t trained_tokens = 0;              // labels among them
  int64_t skipped = 0;                     // records with no trained token, left out (-1: unknown)
  TokenDType dtype = TokenDType::kUInt16;  // uint16 when every id fits
  int64_t vocab_size = 0;
  int32_t eos_id = 0;
};

// Tokenizes `dataset` with model_dir's tokenizer (and chat template) into the sample file
// `output` (+ .samples), published atomically. Records with no trained token are left out
// and counted as skipped; a dataset with no trained token at all is an error, as is any bad
// record (the error names the file, the record and the field). `progress`, when set, is
// called after every 1000 records.
absl::StatusOr<DatasetSummary> PrepareDataset(
    const std::string& dataset, const std::string& model_dir, const DatasetOptions& options,
    const std::string& output,
    const std::function<void(const DatasetSummary&)>& progress = nullptr);

struct PreparedDataset {
  std::string path;  // the sample file (SampleFile::Open(path, vocab_size))
  DatasetSummary summary;
  bool reused = false;  // found prepared, not tokenized again
};

// The cache key of a preparation: FNV-1a 64 of the model directory's tokenizer.json,
// tokenizer_config.json, chat_template.jinja and config.json (the EOS id), the options, and
// the dataset's size and modification time (and its absolute path when the result lives in
// a cache dir), as 16 hex digits.
absl::StatusOr<std::string> PreparationKey(const std::string& dataset, const std::string& model_dir,
                                           const DatasetOptions& options, bool in_cache_dir);

// `dataset` prepared as PrepareDataset does, into `<dataset>.zerod-<key>.bin` (+ .samples)
// beside it, or into `cache_dir` as `<dataset's name>.zerod-<key>.bin` when the dataset's
// folder is not writable (an error naming both when there is no cache_dir). An existing
// file of that name is reused (opened and checked). Safe to call from several processes:
// each writes temporary files and renames them.
absl::StatusOr<PreparedDataset> PrepareCached(const std::string& dataset,
                                              const std::string& model_dir,
                                              const DatasetOptions& options,
                                              const std::string& cache_dir = "");

}  // namespace zerod::data
