// Host memory for what a rank keeps off the GPU: 16-bit parameter shards and float32
// gradient shards, page-locked (cudaHostAlloc) on CUDA builds so host<->GPU copies run
// asynchronously at full PCIe speed. Memory comes from large blocks, carved in order;
// freed pieces are kept for reuse by requests of the same size. Pinning can be off
// (ds_config "pin_memory": false): then blocks are ordinary pageable memory.
//
// Threading: not thread-safe; owned by one rank's engine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

#include "absl/status/statusor.h"

namespace zerod::offload {

class PinnedPool {
 public:
  struct Options {
    bool pin = true;                         // page-lock (CUDA builds; CPU builds never pin)
    size_t block_bytes = size_t{256} << 20;  // requests above this get a block of their own
  };
  explicit PinnedPool(const Options& options);
  ~PinnedPool();
  PinnedPool(const PinnedPool&) = delete;
  PinnedPool& operator=(const PinnedPool&) = delete;

  // 256-byte aligned memory of at least `bytes`. ResourceExhausted when the host cannot
  // provide (or pin) it, with the size and the fix in the message.
  absl::StatusOr<void*> Allocate(size_t bytes);
  // Returns memory from Allocate() for reuse by a later request of the same size.
  // Unknown pointers and second frees are ignored.
  void Free(void* ptr);

  bool pinned() const { return pin_; }
  int64_t reserved_bytes() const { return reserved_bytes_; }  // held from the OS
  int64_t in_use_bytes() const { return in_use_bytes_; }      // handed out, not freed

 private:
  struct Block {
    void* base;
    size_t bytes;
    size_t used;
  };
  absl::StatusOr<void*> NewBlock(size_t bytes);

  // Constant after construction.
  bool pin_;
  size_t block_bytes_;
  // State.
  std::vector<Block> blocks_;
  struct Piece {
    size_t bytes;
    bool in_use;
  };
  std::map<void*, Piece> pieces_;      // every piece handed out, by address
  std::multimap<size_t, void*> free_;  // freed pieces by size
  int64_t reserved_bytes_ = 0;
  int64_t in_use_bytes_ = 0;
};

}  // namespace zerod::offload
