// SIGTERM, SIGINT and SIGUSR1 (what Slurm and mpirun send before preemption or the time
// limit) ask the rank to stop at the next step boundary instead of ending the process:
// the handler only records the signal; the rank loop asks, agrees with the other ranks
// (a signal may reach only some of them) and saves before it exits.
#pragma once

#include "engine/comm/communicator.h"

namespace zerod::daemon {

// Installs the handlers (once; later calls do nothing).
void InstallStopSignals();

// The first stop signal this process received, or 0.
int StopSignal();

// Every rank calls it at the same point (a step boundary): the largest signal number any
// rank received, 0 when none did. A collective.
int AgreeOnStop(comm::Communicator& comm);

// "SIGTERM", "SIGINT", "SIGUSR1".
const char* StopSignalName(int signal);

}  // namespace zerod::daemon
