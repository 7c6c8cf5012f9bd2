#include "engine/train/dataset_files.h"

#include <cstdio>
#include <string>

#include "engine/data/dataset_prep.h"
#include "engine/data/record_reader.h"
#include "engine/models/model_dir.h"
#include "engine/util/status_macros.h"

namespace zerod::train {
namespace {

// The prepared file of `*path` when it is a dataset file; `field` names it in the summary.
absl::Status Prepare(const char* field, const std::string& model_dir, std::string* path,
                     comm::Communicator& comm) {
  if (path->empty() || !data::IsRecordFile(*path)) return absl::OkStatus();
  const data::DatasetOptions options;  // TRL's field names; --prepare-data takes others
  absl::StatusOr<data::PreparedDataset> prepared = absl::UnknownError("not rank 0");
  if (comm.rank() == 0) prepared = data::PrepareCached(*path, model_dir, options);
  RETURN_IF_ERROR(
      comm::AgreeOnStatus(comm, comm.rank() == 0 ? prepared.status() : absl::OkStatus()));
  // Where rank 0 wrote it, for everyone (a shared path, train/shared_paths.h): the others
  // neither hash the tokenizer again nor check the file twice (the job opens it next).
  std::string prepared_path = comm.rank() == 0 ? prepared->path : "";
  uint64_t length = prepared_path.size();
  RETURN_IF_ERROR(comm.Broadcast(&length, sizeof(length), 0));
  prepared_path.resize(length);
  RETURN_IF_ERROR(comm.Broadcast(prepared_path.data(), length, 0));
  if (comm.rank() == 0) {
    const data::DatasetSummary& s = prepared->summary;
    if (prepared->reused) {
      std::fprintf(stderr, "zerod: %s %s: prepared before, %lld samples, %lld tokens (%s)\n", field,
                   path->c_str(), static_cast<long long>(s.samples),
                   static_cast<long long>(s.tokens), prepared_path.c_str());
    } else {
      std::fprintf(stderr,
                   "zerod: %s %s: %lld records, %lld samples, %lld tokens of which %lld trained, "
                   "%lld skipped (no trained token); prepared into %s\n",
                   field, path->c_str(), static_cast<long long>(s.records),
                   static_cast<long long>(s.samples), static_cast<long long>(s.tokens),
                   static_cast<long long>(s.trained_tokens), static_cast<long long>(s.skipped),
                   prepared_path.c_str());
    }
  }
  *path = prepared_path;
  return absl::OkStatus();
}

}  // namespace

absl::Status PrepareDatasetFiles(JobSpec* spec, comm::Communicator& comm) {
  if (!data::IsRecordFile(spec->data_path) &&
      (spec->eval_data.empty() || !data::IsRecordFile(spec->eval_data))) {
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> model_dir = models::ResolveModelDir(spec->model_dir);
  RETURN_IF_ERROR(comm::AgreeOnStatus(comm, model_dir.status()));
  RETURN_IF_ERROR(Prepare("data", *model_dir, &spec->data_path, comm));
  return Prepare("eval_data", *model_dir, &spec->eval_data, comm);
}

}  // namespace zerod::train
