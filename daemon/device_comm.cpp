#include "daemon/device_comm.h"

#include <chrono>
#include <cstdio>
#include <string>

#ifdef ZEROD_CUDA
#include "engine/comm/nccl_communicator.h"
#endif

namespace zerod::daemon {

std::unique_ptr<comm::Communicator> GpuCommunicator(comm::MpiCommunicator& mpi) {
#ifdef ZEROD_CUDA
  auto nccl = comm::NcclCommunicator::Create(&mpi, mpi.local_rank(), std::chrono::seconds(600));
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
