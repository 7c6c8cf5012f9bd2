// The NCCL communicator behind a declaration that names no NCCL, CUDA or torch type: what
// the daemon calls to put a rank's collectives on its GPU without seeing
// NcclCommunicator's class. Defined in nccl_communicator.cpp, so only CUDA builds
// (ZEROD_CUDA) have it.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/comm/communicator.h"
#include "engine/comm/mpi_communicator.h"

namespace zerod::comm {

// NcclCommunicator::Create: a communicator over `mpi`'s ranks on CUDA device `device`,
// whose start-up and host-side waits give up after `timeout`. Errors when NCCL fails to
// start on any rank (every rank gets the same outcome). `mpi` must outlive it.
absl::StatusOr<std::unique_ptr<Communicator>> CreateNcclCommunicator(MpiCommunicator* mpi,
                                                                     int device,
                                                                     std::chrono::seconds timeout);

// GPUs this process sees (cudaGetDeviceCount; 0 when CUDA finds none).
int VisibleGpus();
// The PCI bus id of CUDA device `device` ("0000:1b:00.0"), "" when unknown.
std::string GpuBusId(int device);

}  // namespace zerod::comm
