#include "daemon/usage_error.h"

#include <unistd.h>

#include <cstdio>

#include "engine/comm/launch_env.h"

namespace zerod::daemon {

void PrintUsageError(const std::string& message) {
  const comm::LaunchEnv env = comm::ReadLaunchEnv();
  if (!env.rank.has_value() || *env.rank == 0) {
    std::fprintf(stderr, "zerod: error: %s\n", message.c_str());
    return;
  }
  if (env.local_rank.value_or(1) != 0) return;
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::fprintf(stderr, "zerod: error (rank %d, host %s): %s\n", *env.rank, host, message.c_str());
}

}  // namespace zerod::daemon
