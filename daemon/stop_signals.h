// SIGTERM, SIGINT and SIGUSR1 (what Slurm and mpirun send before preemption or the time
// limit) ask the rank to stop at the next step boundary instead of ending the process:
// the handler only records the signal; each rank reports it with every command
// (RankReport.stop_signal), and rank 0's scheduler then saves the job and stops the ranks
// (command_loop.h).
#pragma once

namespace zerod::daemon {

// Installs the handlers (once; later calls do nothing).
void InstallStopSignals();

// The first stop signal this process received, or 0.
int StopSignal();

// "SIGTERM", "SIGINT", "SIGUSR1".
const char* StopSignalName(int signal);

}  // namespace zerod::daemon
