// Reads a Hugging Face model directory's weights: model.safetensors, or the shards
// that model.safetensors.index.json lists. Reads are element ranges of one tensor, so a
// rank copies only the slice its ZeRO shard owns and never holds the whole model.
// Torch-free.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/models/safetensors.h"

namespace zerod::models {

class CheckpointReader {
 public:
  // True when `dir` holds model.safetensors or model.safetensors.index.json.
  static bool HasWeights(const std::string& dir);
  // Opens every file of the checkpoint (validating each header). NotFound when the
  // directory has no weights; InvalidArgument for a bad index or file.
  static absl::StatusOr<std::unique_ptr<CheckpointReader>> Open(const std::string& dir);

  // Copies elements [first, first + count) of tensor `name` (row-major) into `dst` as
  // float32. InvalidArgument when the tensor is missing or its shape is not `shape`.
  size_t num_tensors() const { return tensors_.size(); }
  size_t num_files() const { return files_.size(); }

  absl::Status ReadFloat32(const std::string& name, const std::vector<int64_t>& shape,
                           int64_t first, int64_t count, float* dst) const;

 private:
  CheckpointReader() = default;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, std::pair<const SafetensorsFile*, const TensorInfo*>> tensors_;
  std::string dir_;
};

}  // namespace zerod::models
