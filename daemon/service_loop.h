// Service mode: `zerod --listen ADDR` on every rank. Rank 0 serves the Coordinator over
// gRPC and drives the rank loop; the other ranks wait for its commands. Returns the
// process exit code: 0 after Shutdown; 1 when MPI fails, and 1 on every rank when rank 0
// refuses to start (an address other hosts reach without a token, coordinator/exposure.h;
// a state dir another daemon set holds, coordinator/state_lock.h; a port in use).
#pragma once

#include <string>

#include "coordinator/service.h"
#include "engine/comm/communicator.h"

namespace zerod::daemon {

// `training` is the communicator jobs train over (NCCL or MPI); `launcher` names how the
// ranks were started ("mpirun", "srun", ...).
int RunService(const coordinator::ServerOptions& options, comm::Communicator* training,
               const std::string& launcher);

}  // namespace zerod::daemon
