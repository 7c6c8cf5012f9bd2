// The safetensors file format (Hugging Face): an 8-byte little-endian header length N,
// N bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {...}}, then the tensor bytes, offsets relative to their start.
// Files are memory-mapped read-only, so a rank that reads one shard of a tensor only
// touches those pages. Every header is validated (dtype, shape against byte size,
// offsets inside the file, no overlaps) before any tensor is handed out. Torch-free.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/util/dtype.h"

namespace zerod::models {

struct TensorInfo {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets relative to the data section
  uint64_t end = 0;
  int64_t numel() const;
};

// A validated header: everything SafetensorsFile::Open knows before it hands out a tensor.
struct SafetensorsHeader {
  std::vector<TensorInfo> tensors;              // in the header's order
  std::map<std::string, std::string> metadata;  // "__metadata__", string values only
  uint64_t data_offset = 0;                     // 8 + N: where the data section starts
};

// Parses and validates the header of the safetensors file whose bytes are `file`, all of
// them (tensor offsets are checked against its size), reading only the first 8 + N. No
// I/O, so tests and fuzzers can feed it buffers; `path` only names the file in errors,
// which are InvalidArgument, as Open's.
absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(std::string_view file,
                                                         const std::string& path);

class SafetensorsFile {
 public:
  // Maps and validates `path`. Errors name the file and the problem: NotFound,
  // InvalidArgument (truncated, header past the end, bad JSON, unknown dtype, size that
  // does not match the shape, overlapping tensors).
  static absl::StatusOr<std::unique_ptr<SafetensorsFile>> Open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // nullptr when absent.
  const TensorInfo* Find(const std::string& name) const;
  // The tensor's bytes, (end - begin) of them.
  const uint8_t* Data(const TensorInfo& info) const { return data_ + info.begin; }
  // Drops the mapped pages that hold bytes [p, p + bytes) from this process's resident
  // set (they stay in the page cache and read back on the next touch). A loader calls it
  // after copying a slice, so loading never holds more of the file than one read.
  void DropPages(const uint8_t* p, size_t bytes) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& path() const { return path_; }
  // When the file carries a data checksum (WriteSafetensors with `checksum`), recomputes it
  // over the data section (dropping the pages as it goes) and returns DataLoss naming the
  // file when they differ. OK for files without one.
  absl::Status VerifyChecksum() const;

 private:
  SafetensorsFile() = default;

  std::string path_;
  const uint8_t* base_ = nullptr;  // the whole mapping
  size_t bytes_ = 0;
  const uint8_t* data_ = nullptr;  // start of the data section
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// A tensor's name, dtype and shape: enough to lay out a file before its bytes exist.
struct TensorSpec {
  std::string name;
  DType dtype = DType::kBFloat16;
  std::vector<int64_t> shape;
  uint64_t bytes() const;
};

// The start of a safetensors file holding `tensors` in order: the 8-byte header length
// and the JSON header, padded so that the data section starts 8-byte aligned.
std::string SafetensorsPrologue(const std::vector<TensorSpec>& tensors,
                                const std::map<std::string, std::string>& metadata);

// One tensor to write: name, dtype, shape and its bytes (numel * dtype size of them).
struct TensorToWrite {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;
  const void* bytes = nullptr;
  // Instead of `bytes`: called when the tensor is written, returns its bytes, valid until
  // the next call (state staged from the GPU one tensor at a time).
  std::function<const void*()> stage;
};

// Writes a safetensors file (tensors in the given order, 8-byte aligned data section).
// `checksum` also records the data section's CRC-32C in the metadata
// (kDataChecksumKey), computed as the bytes are written.
absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                              const std::map<std::string, std::string>& metadata = {},
                              bool checksum = false);
inline constexpr char kDataChecksumKey[] = "zerod_data_crc32c";

// "F32", "F16", "BF16", ... for the dtypes zerod handles; InvalidArgument otherwise.
absl::StatusOr<DType> ParseSafetensorsDType(const std::string& name);
const char* SafetensorsDTypeName(DType dtype);

}  // namespace zerod::models
