// Service mode: `zerod --listen ADDR` on every rank. Rank 0 serves the Coordinator over
// gRPC and drives the rank loop; the other ranks wait for its commands. Returns the
// process exit code: 0 after Shutdown, 1 when the daemons cannot start or MPI fails.
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
