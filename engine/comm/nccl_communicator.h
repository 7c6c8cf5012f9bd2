// Communicator over NCCL for the GPU path (CUDA builds only). One communicator per
// rank on the rank's GPU; the unique id travels over MPI.
//
// Stream ordering: a collective is enqueued on the communicator's own stream after all
// work submitted so far to the calling thread's current CUDA stream (an event, never a
// device-wide synchronize). Its Work::Wait() makes the *current* stream wait for it, so
// the caller's next kernels see the result while the host runs on.
//
// Failures: a collective that fails, or that does not finish within `timeout` of a host
// wait (Synchronize), aborts the NCCL communicator and returns an error; every later
// call fails with the same error (sticky), so a dead peer becomes an error on every
// rank, not a hang.
#pragma once

#include <chrono>
#include <memory>

#include "absl/status/statusor.h"
#include "engine/comm/communicator.h"
#include "engine/comm/mpi_communicator.h"

namespace zerod::comm {

class NcclCommunicator final : public Communicator {
 public:
  // Creates the communicator on `device` (CUDA index). `mpi` must outlive this object;
  // collectives on host memory (AllReduce, Broadcast, Barrier) go through it.
  static absl::StatusOr<std::unique_ptr<NcclCommunicator>> Create(MpiCommunicator* mpi, int device,
                                                                  std::chrono::seconds timeout);
  ~NcclCommunicator() override;

  int rank() const override { return mpi_->rank(); }
  int world_size() const override { return mpi_->world_size(); }
  int local_rank() const override { return mpi_->local_rank(); }
  int local_size() const override { return mpi_->local_size(); }
  int device() const override;
  std::string backend() const override { return "nccl"; }

  // Device buffers.
  absl::StatusOr<std::unique_ptr<Work>> AllGatherAsync(const void* send, void* recv, size_t count,
                                                       DType dtype) override;
  absl::StatusOr<std::unique_ptr<Work>> ReduceScatterAsync(const void* send, void* recv,
                                                           size_t count, DType dtype,
                                                           ReduceOp op) override;
  // Host buffers (through MPI).
  absl::Status AllReduce(void* buf, size_t count, DType dtype, ReduceOp op) override;
  absl::Status Broadcast(void* buf, size_t bytes, int root) override;
  absl::Status Barrier() override;
  bool SupportsReduce(DType dtype) const override { return true; }

  // Blocks the host until every collective issued so far has finished, polling NCCL's
  // asynchronous error state; aborts after the timeout.
  absl::Status Synchronize() override;

 private:
  struct Impl;
  NcclCommunicator(MpiCommunicator* mpi, std::unique_ptr<Impl> impl);
  absl::Status Fail(absl::Status status);  // aborts the communicator, makes `status` sticky

  MpiCommunicator* mpi_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace zerod::comm
