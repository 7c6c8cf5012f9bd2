// The communicator a rank trains or evaluates over, chosen alike on every rank: NCCL on the
// GPU this rank sees (engine/comm/gpu_select.h: one visible GPU whatever the local rank,
// several indexed by local rank) when every rank has one, MPI on the CPU when none has
// (nullptr). Some ranks with a GPU and others without, too few GPUs for a host's ranks, or
// NCCL failing to start within the collective timeout on any rank, is an error, the same
// on every rank. Starts the rank's watchdog first (engine/comm/watchdog.h).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "engine/comm/mpi_communicator.h"

namespace zerod::daemon {

absl::StatusOr<std::unique_ptr<comm::Communicator>> GpuCommunicator(comm::MpiCommunicator& mpi);

}  // namespace zerod::daemon
