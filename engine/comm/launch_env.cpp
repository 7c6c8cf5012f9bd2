#include "engine/comm/launch_env.h"

#include <cstdlib>

#include "absl/strings/numbers.h"

namespace zerod::comm {
namespace {

std::optional<int> ReadInt(const std::function<const char*(const char*)>& getenv_fn,
                           const char* name) {
  const char* value = getenv_fn(name);
  int out = 0;
  if (value == nullptr || !absl::SimpleAtoi(value, &out)) return std::nullopt;
  return out;
}

// The variables each launcher sets, in the order they are tried. Open MPI comes first:
// under `mpirun` inside a Slurm allocation both sets exist, and the processes are mpirun's.
struct LauncherVars {
  const char* launcher;
  const char* rank;
  const char* world_size;
  const char* local_rank;
  const char* local_size;
};
constexpr LauncherVars kLaunchers[] = {
    {"mpirun", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK",
     "OMPI_COMM_WORLD_LOCAL_SIZE"},
    {"srun", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"},
    {"pmi", "PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID", "MPI_LOCALNRANKS"},
};

}  // namespace

LaunchEnv ReadLaunchEnv(const std::function<const char*(const char*)>& getenv_fn) {
  LaunchEnv env;
  for (const LauncherVars& vars : kLaunchers) {
    if (auto rank = ReadInt(getenv_fn, vars.rank)) {
      env.launcher = vars.launcher;
      env.rank = rank;
      env.world_size = ReadInt(getenv_fn, vars.world_size);
      env.local_rank = ReadInt(getenv_fn, vars.local_rank);
      env.local_size = ReadInt(getenv_fn, vars.local_size);
      break;
    }
  }
  return env;
}

LaunchEnv ReadLaunchEnv() {
  return ReadLaunchEnv([](const char* n) { return std::getenv(n); });
}

}  // namespace zerod::comm
