// Who prints an error found before MPI starts (a bad flag, a --token-file that is not
// there). Every rank parses the same flags, but files are per host: under Slurm on two
// nodes a path that exists on the first node only fails on the second, and if only rank 0
// spoke the second node's ranks would exit in silence (issue 27). So rank 0 prints it, and
// so does each other host's first rank (local rank 0), naming its rank and host: one line
// per host, never one per rank.
#pragma once

#include <string>

namespace zerod::daemon {

void PrintUsageError(const std::string& message);

}  // namespace zerod::daemon
