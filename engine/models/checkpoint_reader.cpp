#include "engine/models/checkpoint_reader.h"

#include <sys/stat.h>

#include <cstring>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/models/expert_layout.h"
#include "engine/offload/cpu_adam.h"
#include "engine/util/files.h"
#include "nlohmann/json.hpp"

namespace zerod::models {
namespace {

bool IsFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

}  // namespace

bool CheckpointReader::HasWeights(const std::string& dir) {
  return IsFile(JoinPath(dir, "model.safetensors")) ||
         IsFile(JoinPath(dir, "model.safetensors.index.json"));
}

absl::StatusOr<std::unique_ptr<CheckpointReader>> CheckpointReader::Open(const std::string& dir) {
  std::vector<std::string> files;
  const std::string index_path = JoinPath(dir, "model.safetensors.index.json");
  if (IsFile(index_path)) {
    nlohmann::json index =
        nlohmann::json::parse(ReadFileToString(index_path).value_or(""), nullptr, false);
    if (index.is_discarded() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_path, ": not a safetensors index (needs a \"weight_map\" object)"));
    }
    std::set<std::string> unique;
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it->is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(index_path, ": weight_map[\"", it.key(), "\"] is not a file name"));
      }
      unique.insert(it->get<std::string>());
    }
    files.assign(unique.begin(), unique.end());
  } else if (IsFile(JoinPath(dir, "model.safetensors"))) {
    files.push_back("model.safetensors");
  } else {
    return absl::NotFoundError(
        absl::StrCat(dir, " has no model.safetensors or model.safetensors.index.json"));
  }
  std::unique_ptr<CheckpointReader> reader(new CheckpointReader());
  reader->dir_ = dir;
  for (const std::string& name : files) {
    auto file = SafetensorsFile::Open(JoinPath(dir, name));
    if (!file.ok()) return file.status();
    for (const TensorInfo& t : (*file)->tensors()) reader->tensors_[t.name] = {file->get(), &t};
    reader->files_.push_back(std::move(file).value());
  }
  return reader;
}

absl::Status CheckpointReader::ReadFloat32(const std::string& name,
                                           const std::vector<int64_t>& shape, int64_t first,
                                           int64_t count, float* dst) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) {
    // An expert's tensor may be a slice of its layer's fused one (expert_layout.h).
    if (const auto fused = FusedSourceOf(name, shape)) {
      for (const std::string& fused_name : fused->names) {
        auto f = tensors_.find(fused_name);
        if (f == tensors_.end()) continue;
        const std::vector<int64_t>& s = f->second.second->shape;
        if (s.size() != 3 || s[0] <= fused->expert || s[1] != fused->rows || s[2] != shape[1]) {
          return absl::InvalidArgumentError(
              absl::StrCat("tensor ", fused_name, " in ", f->second.first->path(), " has shape ",
                           ShapeString(s), "; for ", name, " config.json implies (>", fused->expert,
                           ", ", fused->rows, ", ", shape[1], ")"));
        }
        if (first < 0 || count < 0 || first + count > shape[0] * shape[1]) {
          return absl::OutOfRangeError(absl::StrCat("read of ", name, " elements [", first, ", ",
                                                    first + count, ") past its ",
                                                    shape[0] * shape[1]));
        }
        return ReadFloat32(fused_name, s, fused->offset + first, count, dst);
      }
    }
    return absl::InvalidArgumentError(absl::StrCat("the checkpoint in ", dir_, " has no tensor ",
                                                   name, " that the model's config.json implies"));
  }
  const auto [file, info] = it->second;
  if (info->shape != shape) {
    return absl::InvalidArgumentError(absl::StrCat("tensor ", name, " in ", file->path(),
                                                   " has shape ", ShapeString(info->shape),
                                                   "; config.json implies ", ShapeString(shape)));
  }
  if (first < 0 || count < 0 || first + count > info->numel()) {
    return absl::OutOfRangeError(absl::StrCat("read of ", name, " elements [", first, ", ",
                                              first + count, ") past its ", info->numel()));
  }
  const uint8_t* src = file->Data(*info) + first * DTypeSize(info->dtype);
  switch (info->dtype) {
    case DType::kFloat32:
      std::memcpy(dst, src, count * sizeof(float));
      break;
    case DType::kFloat16:
    case DType::kBFloat16:
      offload::ConvertToFloat(src, dst, count, info->dtype);
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("tensor ", name, " in ", file->path(), " is ",
                                                     DTypeName(info->dtype),
                                                     "; weights must be F32, F16 or BF16"));
  }
  // The copy is all this rank needs of those bytes: keep them out of its resident set.
  file->DropPages(src, count * DTypeSize(info->dtype));
  return absl::OkStatus();
}

}  // namespace zerod::models
