// The NCCL communicator behind a declaration that names no NCCL, CUDA or torch type: what
// the daemon calls to put a rank's collectives on its GPU without seeing
// NcclCommunicator's class. Defined in nccl_communicator.cpp, so only CUDA builds
// (ZEROD_CUDA) have it.
#pragma once

#include <chrono>
#include <memory>

#include "absl/status/statusor.h"
#include "engine/comm/communicator.h"
#include "engine/comm/mpi_communicator.h"

namespace zerod::comm {

// NcclCommunicator::Create: a communicator over `mpi`'s ranks on CUDA device `device`,
// whose host-side waits give up after `timeout`. Errors when there is no usable GPU or
// NCCL fails to initialise (every rank gets the same outcome). `mpi` must outlive it.
absl::StatusOr<std::unique_ptr<Communicator>> CreateNcclCommunicator(MpiCommunicator* mpi,
                                                                     int device,
                                                                     std::chrono::seconds timeout);

}  // namespace zerod::comm
