// What a stop from the keyboard does to a one-shot run, said in the run's first lines where
// it does not save. Open MPI's mpirun (4.1, measured 2026-12-03) cannot forward SIGINT: its
// ess_base_forward_signals refuses it ("The system does not support trapping and forwarding
// of the specified signal"), and the ranks run in process groups of their own, so Ctrl-C
// reaches mpirun alone. mpirun then sends the ranks SIGCONT, SIGTERM
// odls_base_sigkill_timeout seconds later (default 1) and SIGKILL as long after that: no
// time for a checkpoint. SIGUSR1 sent to mpirun is forwarded to every rank at once; the ranks
// stop after the step in flight and save (stop_signals.h). srun delivers the signals
// itself, and a lone process gets Ctrl-C's SIGINT: both save.
#pragma once

#include <string>

namespace zerod::daemon {

// The note for a one-shot run under `launcher` ("mpirun", "slurm", ...) saving into
// `save_dir` on a stop: "" where Ctrl-C saves, or where there is nothing to save.
// `mpirun_pid` is mpirun's process id when known (rank 0's parent), else 0.
std::string StopAdvice(const std::string& launcher, const std::string& save_dir, int mpirun_pid);

// Rank 0's parent when it is mpirun (the ranks on mpirun's own host are its children), else 0.
int MpirunPid();

}  // namespace zerod::daemon
