// The collectives ZeRO-3 needs, over raw buffers, so that no torch header leaks into
// code that only moves bytes. MpiCommunicator implements it on CPUs; the CUDA build
// adds NcclCommunicator. The engine is the only caller (DESIGN.md: models never call
// a collective).
//
// Threading: a Communicator is used by one thread at a time, the rank's main loop
// (DESIGN.md "One thread per rank talks MPI"). Collectives are matched by call order,
// so every rank must issue the same sequence.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/util/dtype.h"

namespace zerod::comm {

enum class ReduceOp { kSum, kMax };

// A collective in flight. Wait() blocks until its buffers may be read and reused;
// calling it twice is a no-op. Destroying an unwaited Work waits for it.
class Work {
 public:
  virtual ~Work() = default;
  virtual absl::Status Wait() = 0;
};

class Communicator {
 public:
  Communicator() = default;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Index of this rank among the ranks of its host.
  virtual int local_rank() const = 0;
  // How many ranks share this host (sizes per-rank CPU thread pools).
  virtual int local_size() const = 0;
  // The CUDA device its collectives and the rank's work run on; -1: the host (MPI). Chosen
  // from what the rank sees (gpu_select.h), so not always the local rank.
  virtual int device() const { return -1; }
  // "mpi", "nccl": shown in logs.
  virtual std::string backend() const = 0;

  // recv (count * world_size elements) receives every rank's send (count elements),
  // rank r's at offset r * count. recv must not alias send.
  virtual absl::StatusOr<std::unique_ptr<Work>> AllGatherAsync(const void* send, void* recv,
                                                               size_t count, DType dtype) = 0;
  // send holds count * world_size elements; recv (count elements) receives the
  // reduction of every rank's block `rank()`.
  virtual absl::StatusOr<std::unique_ptr<Work>> ReduceScatterAsync(const void* send, void* recv,
                                                                   size_t count, DType dtype,
                                                                   ReduceOp op) = 0;
  // Reduces count elements in place across ranks.
  virtual absl::Status AllReduce(void* buf, size_t count, DType dtype, ReduceOp op) = 0;
  virtual absl::Status Broadcast(void* buf, size_t bytes, int root) = 0;
  virtual absl::Status Barrier() = 0;
  // True when reductions over `dtype` are supported (MPI has no 16-bit float sum).
  virtual bool SupportsReduce(DType dtype) const = 0;
  // Blocks the host until every collective issued so far has finished (asynchronous
  // backends; MPI's are complete once waited). Errors are sticky.
  virtual absl::Status Synchronize() { return absl::OkStatus(); }
};

// Makes a local outcome collective: every rank learns whether any rank failed, and
// all of them return the failure of the lowest failing rank (its code and message).
// Call it after steps that may fail on some ranks only (opening a file, say), so no
// rank goes on into a collective that a failed rank will never join.
absl::Status AgreeOnStatus(Communicator& comm, const absl::Status& local);

}  // namespace zerod::comm
