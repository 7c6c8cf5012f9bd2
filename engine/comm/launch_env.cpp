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

}  // namespace

LaunchEnv ReadLaunchEnv(const std::function<const char*(const char*)>& getenv_fn) {
  LaunchEnv env;
  // Open MPI first: under `mpirun` inside a Slurm allocation both sets exist, and the
  // processes are mpirun's.
  if (auto rank = ReadInt(getenv_fn, "OMPI_COMM_WORLD_RANK")) {
    env.launcher = "mpirun";
    env.rank = rank;
    env.world_size = ReadInt(getenv_fn, "OMPI_COMM_WORLD_SIZE");
    env.local_rank = ReadInt(getenv_fn, "OMPI_COMM_WORLD_LOCAL_RANK");
    env.local_size = ReadInt(getenv_fn, "OMPI_COMM_WORLD_LOCAL_SIZE");
  } else if (auto rank = ReadInt(getenv_fn, "SLURM_PROCID")) {
    env.launcher = "srun";
    env.rank = rank;
    env.world_size = ReadInt(getenv_fn, "SLURM_NTASKS");
    env.local_rank = ReadInt(getenv_fn, "SLURM_LOCALID");
    env.local_size = ReadInt(getenv_fn, "SLURM_NTASKS_PER_NODE");
  } else if (auto rank = ReadInt(getenv_fn, "PMI_RANK")) {
    env.launcher = "pmi";
    env.rank = rank;
    env.world_size = ReadInt(getenv_fn, "PMI_SIZE");
    env.local_rank = ReadInt(getenv_fn, "MPI_LOCALRANKID");
    env.local_size = ReadInt(getenv_fn, "MPI_LOCALNRANKS");
  }
  return env;
}

LaunchEnv ReadLaunchEnv() { return ReadLaunchEnv([](const char* n) { return std::getenv(n); }); }

}  // namespace zerod::comm
