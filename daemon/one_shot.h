// One-shot training (`zerod --train`), through the service's own path: rank 0 submits the
// one job to an in-process scheduler (no gRPC server) and drives the ranks with the same
// command loop (command_loop.h) until the job has ended, so starting, stepping, saving and
// exporting on success, failures and stop signals behave as they do for `zeroctl submit`.
// What differs is only what is printed: DeepSpeed's step lines (text or JSON) instead of
// the service's log, and an exit code.
#pragma once

#include <string>

#include "engine/api.h"

namespace zerod::daemon {

// Trains `spec` (validated: config::ValidateJobSpec) on every rank. All ranks call it.
// Returns the process's exit code: 0 when the job succeeded, or when a stop signal ended it
// and its checkpoint was saved to spec.save_dir; 128 + the signal when there was nowhere to
// save; 1 when it failed (rank 0 says why, once).
int RunOneShot(const JobSpec& spec, bool json_log, comm::Communicator* training,
               const std::string& launcher);

}  // namespace zerod::daemon
