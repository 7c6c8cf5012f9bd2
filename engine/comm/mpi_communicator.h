// Communicator over MPI: the CPU path, and the bootstrap channel of the GPU path
// (NCCL's unique id travels over it). Host buffers only.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "engine/comm/communicator.h"
#include "engine/comm/launch_env.h"

namespace zerod::comm {

// Initialises MPI once per process (thread level FUNNELED: only the main thread calls
// MPI) and finalises it when destroyed. Create it first in main and keep it alive
// longer than every communicator.
class MpiRuntime {
 public:
  static absl::StatusOr<std::unique_ptr<MpiRuntime>> Init(int* argc, char*** argv);
  ~MpiRuntime();
  // Ends every rank of the job at once (MPI_Abort): after a collective timed out, when a
  // normal finalize would wait for the rank that stopped answering.
  [[noreturn]] static void Abort(int code);
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;

 private:
  MpiRuntime() = default;
};

class MpiCommunicator final : public Communicator {
 public:
  // A communicator over all processes of the job (a duplicate of MPI_COMM_WORLD).
  // FailedPrecondition unless MPI is initialised (an MpiRuntime is alive).
  static absl::StatusOr<std::unique_ptr<MpiCommunicator>> CreateWorld();
  ~MpiCommunicator() override;

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  std::string backend() const override { return "mpi"; }
  const LaunchEnv& launch_env() const { return launch_env_; }

  absl::StatusOr<std::unique_ptr<Work>> AllGatherAsync(const void* send, void* recv, size_t count,
                                                       DType dtype) override;
  absl::StatusOr<std::unique_ptr<Work>> ReduceScatterAsync(const void* send, void* recv,
                                                           size_t count, DType dtype,
                                                           ReduceOp op) override;
  absl::Status AllReduce(void* buf, size_t count, DType dtype, ReduceOp op) override;
  absl::Status Broadcast(void* buf, size_t bytes, int root) override;
  absl::Status Barrier() override;
  bool SupportsReduce(DType dtype) const override { return !Is16Bit(dtype); }

 private:
  struct Impl;
  explicit MpiCommunicator(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
  // Constant after construction.
  int rank_ = 0;
  int world_size_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  LaunchEnv launch_env_;
};

}  // namespace zerod::comm
