// One large, long-lived host array for optimizer state (fp32 master weights, Adam
// moments): anonymous memory mapped straight from the OS, asked to live on 2 MiB
// transparent huge pages. CpuAdam streams several such arrays at once; with 4 KiB pages
// every 4 KiB of each stream costs a TLB miss, with huge pages one per 2 MiB.
//
// Pages are zero and untouched until first written, so the thread that first writes a
// range places it on its NUMA node: fill the array with the same OpenMP partition that
// later updates it (CpuAdam splits n into equal contiguous per-thread ranges).
//
// Not here: page-locking for GPU copies (PinnedPool does that for what crosses PCIe).
//
// Threading: the object is not thread-safe; the memory it holds is plain memory.
#pragma once

#include <cstddef>

#include "absl/status/statusor.h"

namespace zerod::offload {

class HostArray {
 public:
  // `bytes` of zero-filled memory, 64-byte aligned; arrays of 2 MiB or more sit on huge
  // pages, each a different colour step past a 2 MiB boundary (Note [array colouring]).
  // Allocate(0) gives an empty array (data() == nullptr). ResourceExhausted,
  // with the size and the fix in the message, when the OS refuses the mapping.
  static absl::StatusOr<HostArray> Allocate(size_t bytes);

  HostArray() = default;  // empty
  ~HostArray();
  HostArray(HostArray&& other) noexcept;
  HostArray& operator=(HostArray&& other) noexcept;
  HostArray(const HostArray&) = delete;
  HostArray& operator=(const HostArray&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }  // as requested
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }

 private:
  HostArray(void* base, void* data, size_t bytes, size_t mapped_bytes)
      : base_(base), data_(data), bytes_(bytes), mapped_bytes_(mapped_bytes) {}
  void Release();

  void* base_ = nullptr;  // the mapping (data_ lies a colour step into it)
  void* data_ = nullptr;
  size_t bytes_ = 0;
  size_t mapped_bytes_ = 0;  // what munmap must return: bytes_ rounded up to the page size
};

}  // namespace zerod::offload
