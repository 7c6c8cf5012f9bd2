#include "engine/offload/pinned_pool.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

#ifdef ZEROD_CUDA
#include <cuda_runtime.h>
#endif

namespace zerod::offload {
namespace {

constexpr size_t kAlign = 256;
size_t RoundUp(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
std::string GiB(size_t b) {
  return absl::StrFormat("%.2f GiB", static_cast<double>(b) / (1ull << 30));
}

}  // namespace

PinnedPool::PinnedPool(const Options& options)
#ifdef ZEROD_CUDA
    : pin_(options.pin),
#else
    : pin_(false),
#endif
      block_bytes_(options.block_bytes) {
}

PinnedPool::~PinnedPool() {
  for (const Block& b : blocks_) {
#ifdef ZEROD_CUDA
    if (pin_) {
      cudaFreeHost(b.base);
      continue;
    }
#endif
    std::free(b.base);
  }
}

absl::StatusOr<void*> PinnedPool::NewBlock(size_t bytes) {
  void* base = nullptr;
#ifdef ZEROD_CUDA
  if (pin_) {
    cudaError_t err = cudaHostAlloc(&base, bytes, cudaHostAllocDefault);
    if (err != cudaSuccess) {
      cudaGetLastError();  // clear the sticky-free error state
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot pin ", GiB(bytes), " of host memory (", GiB(reserved_bytes_),
                       " pinned already): ", cudaGetErrorString(err),
                       "; free host memory, use fewer ranks per host, or set "
                       "\"pin_memory\": false in the ds_config's offload sections"));
    }
  }
#endif
  if (base == nullptr) {
    base = std::aligned_alloc(kAlign, RoundUp(bytes));
    if (base == nullptr) {
      return absl::ResourceExhaustedError(absl::StrCat("cannot allocate ", GiB(bytes),
                                                       " of host memory (", GiB(reserved_bytes_),
                                                       " held already)"));
    }
  }
  blocks_.push_back({base, bytes, 0});
  reserved_bytes_ += static_cast<int64_t>(bytes);
  return base;
}

absl::StatusOr<void*> PinnedPool::Allocate(size_t bytes) {
  bytes = RoundUp(std::max<size_t>(bytes, 1));
  if (auto it = free_.find(bytes); it != free_.end()) {
    void* p = it->second;
    free_.erase(it);
    pieces_[p].in_use = true;
    in_use_bytes_ += static_cast<int64_t>(bytes);
    return p;
  }
  void* p = nullptr;
  if (bytes > block_bytes_) {
    auto block = NewBlock(bytes);
    if (!block.ok()) return block.status();
    blocks_.back().used = bytes;
    p = *block;
  } else {
    // Carve from the newest shared block, or open a new one.
    Block* last = blocks_.empty() ? nullptr : &blocks_.back();
    if (last == nullptr || last->bytes > block_bytes_ || last->bytes - last->used < bytes) {
      auto block = NewBlock(block_bytes_);
      if (!block.ok()) return block.status();
      last = &blocks_.back();
    }
    p = static_cast<char*>(last->base) + last->used;
    last->used += bytes;
  }
  pieces_[p] = {bytes, true};
  in_use_bytes_ += static_cast<int64_t>(bytes);
  return p;
}

void PinnedPool::Free(void* ptr) {
  auto it = pieces_.find(ptr);
  if (it == pieces_.end() || !it->second.in_use) return;
  it->second.in_use = false;
  free_.emplace(it->second.bytes, ptr);
  in_use_bytes_ -= static_cast<int64_t>(it->second.bytes);
}

}  // namespace zerod::offload
