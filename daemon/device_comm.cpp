#include "daemon/device_comm.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "engine/comm/bounded_wait.h"

#ifdef ZEROD_CUDA
#include "engine/comm/gpu_communicator.h"
#endif

namespace zerod::daemon {

std::unique_ptr<comm::Communicator> GpuCommunicator(comm::MpiCommunicator& mpi) {
#ifdef ZEROD_CUDA
  // NCCL's host-side waits share the collective timeout (0: a day, i.e. unbounded).
  const double limit = comm::CollectiveTimeout();
  auto nccl = comm::CreateNcclCommunicator(
      &mpi, mpi.local_rank(),
      std::chrono::seconds(limit > 0 ? static_cast<int64_t>(std::ceil(limit)) : 86400));
  if (nccl.ok()) return std::move(nccl).value();
  if (mpi.rank() == 0) {
    std::fprintf(stderr, "zerod: no GPU path (%s); running on the CPU\n",
                 std::string(nccl.status().message()).c_str());
  }
#endif
  (void)mpi;
  return nullptr;
}

}  // namespace zerod::daemon
