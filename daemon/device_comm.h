// The communicator a rank trains or evaluates over: NCCL on this rank's GPU where the
// build has CUDA and the host has a GPU for every local rank, else nullptr, meaning MPI
// on the CPU. Rank 0 says why when a CUDA build falls back to the CPU.
#pragma once

#include <memory>

#include "engine/comm/mpi_communicator.h"

namespace zerod::daemon {

std::unique_ptr<comm::Communicator> GpuCommunicator(comm::MpiCommunicator& mpi);

}  // namespace zerod::daemon
