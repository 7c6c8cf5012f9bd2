#include "engine/models/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/util/crc32c.h"
#include "nlohmann/json.hpp"

namespace zerod::models {
namespace {

absl::Status Corrupt(const std::string& path, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat("safetensors file ", path, ": ", what));
}

}  // namespace

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

absl::StatusOr<DType> ParseSafetensorsDType(const std::string& name) {
  for (DType dtype : kAllDTypes) {
    if (name == SafetensorsDTypeName(dtype)) return dtype;
  }
  std::string known;
  for (DType dtype : kAllDTypes)
    absl::StrAppend(&known, known.empty() ? "" : ", ", SafetensorsDTypeName(dtype));
  return absl::InvalidArgumentError(
      absl::StrCat("dtype \"", name, "\" is not supported (", known, ")"));
}

const char* SafetensorsDTypeName(DType dtype) {
  switch (dtype) {
#define ZEROD_DTYPE_CASE(e, name, bytes, st, mpi, nccl, torch) \
  case DType::e:                                               \
    return st;
    ZEROD_DTYPE_TABLE(ZEROD_DTYPE_CASE)
#undef ZEROD_DTYPE_CASE
  }
  return "U8";
}

absl::StatusOr<SafetensorsHeader> ParseSafetensorsHeader(std::string_view file,
                                                         const std::string& path) {
  const size_t bytes = file.size();
  if (bytes < 8) {
    return Corrupt(
        path, absl::StrCat("truncated: ", bytes, " bytes, fewer than the 8-byte header length"));
  }
  uint64_t header_len = 0;
  std::memcpy(&header_len, file.data(), 8);  // little-endian, as every host zerod runs on
  if (header_len > bytes - 8) {
    return Corrupt(path,
                   absl::StrCat("header length ", header_len, " points past the end of the file (",
                                bytes, " bytes): truncated or not a safetensors file"));
  }
  const char* header = file.data() + 8;
  nlohmann::json json = nlohmann::json::parse(header, header + header_len, nullptr, false);
  if (json.is_discarded() || !json.is_object()) return Corrupt(path, "header is not a JSON object");
  SafetensorsHeader out;
  out.data_offset = 8 + header_len;
  const uint64_t data_bytes = bytes - 8 - header_len;

  for (auto it = json.begin(); it != json.end(); ++it) {
    if (it.key() == "__metadata__") {
      if (!it->is_object()) return Corrupt(path, "__metadata__ is not an object");
      for (auto m = it->begin(); m != it->end(); ++m) {
        if (m->is_string()) out.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    const auto& t = *it;
    TensorInfo info;
    info.name = it.key();
    if (!t.is_object() || !t.contains("dtype") || !t["dtype"].is_string() || !t.contains("shape") ||
        !t["shape"].is_array() || !t.contains("data_offsets") || !t["data_offsets"].is_array() ||
        t["data_offsets"].size() != 2) {
      return Corrupt(path, absl::StrCat("tensor ", info.name,
                                        " lacks dtype, shape or data_offsets [begin, end]"));
    }
    auto dtype = ParseSafetensorsDType(t["dtype"].get<std::string>());
    if (!dtype.ok())
      return Corrupt(path, absl::StrCat("tensor ", info.name, ": ", dtype.status().message()));
    info.dtype = *dtype;
    // The byte count, checked as it grows: a damaged header's [2^32, 2^32] must not wrap
    // around to a size that matches (and dims above INT64_MAX would turn negative).
    uint64_t want = DTypeSize(info.dtype);
    for (const auto& d : t["shape"]) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > INT64_MAX)
        return Corrupt(path, absl::StrCat("tensor ", info.name, " has a bad shape"));
      info.shape.push_back(d.get<int64_t>());
      if (__builtin_mul_overflow(want, d.get<uint64_t>(), &want)) {
        return Corrupt(path,
                       absl::StrCat("tensor ", info.name, " has a shape of more than 2^64 bytes"));
      }
    }
    const auto& off = t["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
      return Corrupt(path, absl::StrCat("tensor ", info.name, " has bad data_offsets"));
    }
    info.begin = off[0].get<uint64_t>();
    info.end = off[1].get<uint64_t>();
    if (info.begin > info.end || info.end > data_bytes) {
      return Corrupt(
          path, absl::StrCat("tensor ", info.name, " spans bytes [", info.begin, ", ", info.end,
                             ") but the data section has ", data_bytes, ": truncated file?"));
    }
    if (info.end - info.begin != want) {
      return Corrupt(path, absl::StrCat("tensor ", info.name, " holds ", info.end - info.begin,
                                        " bytes but its shape and dtype need ", want));
    }
    out.tensors.push_back(std::move(info));
  }
  // No two tensors may share bytes.
  std::vector<const TensorInfo*> by_offset;
  for (const auto& t : out.tensors) by_offset.push_back(&t);
  std::sort(by_offset.begin(), by_offset.end(),
            [](auto* a, auto* b) { return a->begin < b->begin; });
  // Against the one reaching furthest so far, not just the previous one: an empty tensor
  // between two others ([0, 100), [10, 10), [50, 60)) must not hide their overlap.
  const TensorInfo* furthest = nullptr;
  for (const TensorInfo* t : by_offset) {
    if (t->begin == t->end) continue;  // holds no bytes
    if (furthest != nullptr && t->begin < furthest->end) {
      return Corrupt(path, absl::StrCat("tensors ", furthest->name, " and ", t->name, " overlap"));
    }
    if (furthest == nullptr || t->end > furthest->end) furthest = t;
  }
  return out;
}

absl::StatusOr<std::unique_ptr<SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("safetensors file ", path, " cannot be opened: ", std::strerror(errno)));
  }
  struct stat st {};
  ::fstat(fd, &st);
  const size_t bytes = static_cast<size_t>(st.st_size);
  if (bytes == 0) {  // mmap refuses an empty file; the parser words the error
    ::close(fd);
    return ParseSafetensorsHeader(std::string_view(), path).status();
  }
  void* map = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED)
    return absl::InternalError(absl::StrCat("mmap of ", path, " failed: ", std::strerror(errno)));
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  file->base_ = static_cast<const uint8_t*>(map);
  file->bytes_ = bytes;

  auto header = ParseSafetensorsHeader(
      std::string_view(reinterpret_cast<const char*>(file->base_), bytes), path);
  if (!header.ok()) return header.status();  // `file` unmaps
  file->data_ = file->base_ + header->data_offset;
  file->tensors_ = std::move(header->tensors);
  file->metadata_ = std::move(header->metadata);
  for (size_t i = 0; i < file->tensors_.size(); ++i) file->index_[file->tensors_[i].name] = i;
  return file;
}

void SafetensorsFile::DropPages(const uint8_t* p, size_t bytes) const {
  if (bytes == 0) return;
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t lo = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
  const uintptr_t hi = reinterpret_cast<uintptr_t>(p) + bytes;
  // Advice only: a failure leaves the pages resident, which is harmless.
  (void)::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

SafetensorsFile::~SafetensorsFile() {
  if (base_ != nullptr) ::munmap(const_cast<uint8_t*>(base_), bytes_);
}

const TensorInfo* SafetensorsFile::Find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

uint64_t TensorSpec::bytes() const {
  uint64_t n = DTypeSize(dtype);
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

std::string SafetensorsPrologue(const std::vector<TensorSpec>& tensors,
                                const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorSpec& t : tensors) {
    header[t.name] = {{"dtype", SafetensorsDTypeName(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes()}}};
    offset += t.bytes();
  }
  std::string text = header.dump();
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');  // align the data section to 8 bytes
  const uint64_t len = text.size();
  return std::string(reinterpret_cast<const char*>(&len), 8) + text;
}

namespace {

constexpr char kChecksumPlaceholder[] = "00000000";

std::string Hex8(uint32_t v) { return absl::StrFormat("%08x", v); }

}  // namespace

absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors,
                              const std::map<std::string, std::string>& metadata, bool checksum) {
  std::vector<TensorSpec> specs;
  for (const auto& t : tensors) specs.push_back({t.name, t.dtype, t.shape});
  std::map<std::string, std::string> meta = metadata;
  if (checksum) meta[kDataChecksumKey] = kChecksumPlaceholder;
  const std::string prologue = SafetensorsPrologue(specs, meta);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::PermissionDeniedError(absl::StrCat("cannot write ", path));
  out.write(prologue.data(), static_cast<std::streamsize>(prologue.size()));
  uint32_t crc = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const void* bytes = tensors[i].stage ? tensors[i].stage() : tensors[i].bytes;
    if (checksum) crc = Crc32c(crc, bytes, specs[i].bytes());
    out.write(static_cast<const char*>(bytes), static_cast<std::streamsize>(specs[i].bytes()));
  }
  if (checksum) {
    // The header was written with a placeholder of the same width: patch it in place.
    const std::string key = absl::StrCat("\"", kDataChecksumKey, "\":\"", kChecksumPlaceholder);
    const size_t at = prologue.find(key);
    out.seekp(static_cast<std::streamoff>(at + key.size() - 8));
    const std::string hex = Hex8(crc);
    out.write(hex.data(), 8);
  }
  if (!out) return absl::InternalError(absl::StrCat("writing ", path, " failed (disk full?)"));
  return absl::OkStatus();
}

absl::Status SafetensorsFile::VerifyChecksum() const {
  auto it = metadata_.find(kDataChecksumKey);
  if (it == metadata_.end()) return absl::OkStatus();
  const size_t total = bytes_ - static_cast<size_t>(data_ - base_);
  constexpr size_t kChunk = size_t{256} << 20;
  uint32_t crc = 0;
  for (size_t at = 0; at < total; at += kChunk) {
    const size_t n = std::min(kChunk, total - at);
    crc = Crc32c(crc, data_ + at, n);
    DropPages(data_ + at, n);
  }
  if (Hex8(crc) != it->second) {
    return absl::DataLossError(absl::StrCat(
        path_, " is corrupt: its data's CRC-32C is ", Hex8(crc), " and the file was written with ",
        it->second, "; this checkpoint cannot be resumed (use an earlier one)"));
  }
  return absl::OkStatus();
}

}  // namespace zerod::models
