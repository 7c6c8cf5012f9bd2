#include "engine/checkpoint/hf_export.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/checkpoint/output_dir.h"
#include "engine/models/safetensors.h"
#include "engine/util/check.h"
#include "engine/util/files.h"
#include "engine/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace zerod::checkpoint {

std::string ExportedConfigJson(const std::string& model_dir, DType dtype) {
  nlohmann::ordered_json config = nlohmann::ordered_json::parse(
      ReadFileToString(JoinPath(model_dir, "config.json")).value_or(""), nullptr, false);
  if (config.is_discarded() || !config.is_object()) config = nlohmann::ordered_json::object();
  // One key names the dtype: the one the source used (transformers 5 writes "dtype",
  // earlier versions "torch_dtype", and 5 still reads it), so that it cannot disagree
  // with a second one left from the source.
  const char* key = config.contains("dtype") ? "dtype" : "torch_dtype";
  config.erase(key == std::string("dtype") ? "torch_dtype" : "dtype");
  config[key] = DTypeName(dtype);
  return config.dump(2);
}

HfExportWriter::HfExportWriter(std::string dir, std::vector<models::TensorSpec> tensors,
                               uint64_t max_file_bytes)
    : dir_(std::move(dir)), tensors_(std::move(tensors)) {
  uint64_t in_file = 0;
  size_t file = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const uint64_t b = tensors_[i].bytes();
    if (in_file > 0 && in_file + b > max_file_bytes) ++file, in_file = 0;
    file_of_.push_back(file);
    in_file += b;
  }
  const size_t files = tensors_.empty() ? 1 : file + 1;
  for (size_t f = 0; f < files; ++f) {
    file_names_.push_back(files == 1
                              ? "model.safetensors"
                              : absl::StrFormat("model-%05d-of-%05d.safetensors", f + 1, files));
  }
}

namespace {

// Every file is written as NAME.partial and renamed when the whole export is written, so
// a failed export never leaves something that looks complete.
std::string Partial(const std::string& path) { return path + ".partial"; }

}  // namespace

HfExportWriter::~HfExportWriter() {
  if (finished_) return;
  if (out_.is_open()) out_.close();
  for (const std::string& name : written_) std::remove(Partial(JoinPath(dir_, name)).c_str());
}

absl::Status HfExportWriter::Begin(const std::string& config_json) {
  // Only an earlier export is overwritten (output_dir.h); anything else stays untouched.
  RETURN_IF_ERROR(CheckReplaceable(dir_, OutputKind::kHfExport));
  if (auto s = MakeDirectories(dir_); !s.ok()) return s;
  const std::string path = JoinPath(dir_, "config.json");
  std::ofstream config(Partial(path), std::ios::trunc);
  written_.push_back("config.json");
  config << config_json;
  if (!config) return absl::PermissionDeniedError(absl::StrCat("cannot write ", Partial(path)));
  begun_ = true;
  return absl::OkStatus();
}

absl::Status HfExportWriter::AddCompanionFiles(const std::string& from_dir) {
  ZEROD_CHECK(begun_);
  for (const std::string& name : CompanionFiles()) {
    const std::optional<std::string> text = ReadFileToString(JoinPath(from_dir, name));
    if (!text) continue;
    const std::string path = Partial(JoinPath(dir_, name));
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    written_.push_back(name);
    out << *text;
    out.flush();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", path, " (disk full?)"));
  }
  return absl::OkStatus();
}

absl::Status HfExportWriter::OpenFile(size_t file) {
  if (out_.is_open()) out_.close();
  std::vector<models::TensorSpec> in_file;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (file_of_[i] == file) in_file.push_back(tensors_[i]);
  }
  const std::string prologue = models::SafetensorsPrologue(in_file, {{"format", "pt"}});
  const std::string path = Partial(JoinPath(dir_, file_names_[file]));
  out_.open(path, std::ios::binary | std::ios::trunc);
  written_.push_back(file_names_[file]);
  if (!out_) return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  out_.write(prologue.data(), static_cast<std::streamsize>(prologue.size()));
  open_file_ = file;
  return absl::OkStatus();
}

absl::Status HfExportWriter::Append(const std::string& name, const void* bytes) {
  ZEROD_CHECK(begun_);
  if (next_ >= tensors_.size() || tensors_[next_].name != name) {
    return absl::FailedPreconditionError(
        absl::StrCat("export: ", name, " appended out of plan order"));
  }
  if (open_file_ != file_of_[next_]) {
    if (auto s = OpenFile(file_of_[next_]); !s.ok()) return s;
  }
  out_.write(static_cast<const char*>(bytes),
             static_cast<std::streamsize>(tensors_[next_].bytes()));
  if (!out_)
    return absl::InternalError(
        absl::StrCat("writing ", file_names_[open_file_], " failed (disk full?)"));
  ++next_;
  return absl::OkStatus();
}

absl::Status HfExportWriter::Finish() {
  if (next_ != tensors_.size()) {
    return absl::FailedPreconditionError(
        absl::StrCat("export: ", tensors_.size() - next_, " tensors never written"));
  }
  if (out_.is_open()) out_.close();
  if (out_.fail()) return absl::InternalError("closing the exported weights failed (disk full?)");
  if (file_names_.size() > 1) RETURN_IF_ERROR(WriteIndex());
  // Weights first, the index, config.json last: a directory with a config.json holds
  // every file it names.
  std::vector<std::string> order(written_.begin() + 1, written_.end());
  order.push_back(written_.front());
  for (const std::string& name : order) {
    const std::string path = JoinPath(dir_, name);
    if (std::rename(Partial(path).c_str(), path.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("cannot rename ", Partial(path), " to ", path));
    }
  }
  finished_ = true;
  return RemoveStaleWeights();
}

// An earlier export into the same directory may have had other shards: the ones this
// export did not write go, so that the index and the files agree.
absl::Status HfExportWriter::RemoveStaleWeights() const {
  ASSIGN_OR_RETURN(const std::vector<std::string> names, ListDirectory(dir_));
  for (const std::string& name : names) {
    if (!IsExportWeightsFile(name) ||
        std::find(written_.begin(), written_.end(), name) != written_.end()) {
      continue;
    }
    if (std::remove(JoinPath(dir_, name).c_str()) != 0) {
      return absl::InternalError(
          absl::StrCat("cannot remove ", JoinPath(dir_, name), ", left by an earlier export"));
    }
  }
  return absl::OkStatus();
}

absl::Status HfExportWriter::WriteIndex() {
  nlohmann::ordered_json map = nlohmann::ordered_json::object();
  uint64_t total = 0;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    map[tensors_[i].name] = file_names_[file_of_[i]];
    total += tensors_[i].bytes();
  }
  nlohmann::ordered_json index = {{"metadata", {{"total_size", total}}}, {"weight_map", map}};
  std::ofstream out(Partial(JoinPath(dir_, "model.safetensors.index.json")), std::ios::trunc);
  written_.push_back("model.safetensors.index.json");
  out << index.dump(2);
  if (!out) return absl::InternalError("writing model.safetensors.index.json failed");
  return absl::OkStatus();
}

}  // namespace zerod::checkpoint
