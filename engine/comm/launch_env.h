// Where this process sits in the job, read from whatever launched it: Open MPI's
// mpirun, Slurm's srun, a PMI launcher (MPICH/Hydra), or nothing (a singleton).
// Users never pass ranks by hand (the seed's "automatic distributed setup").
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace zerod::comm {

struct LaunchEnv {
  std::string launcher = "singleton";  // "mpirun", "srun", "pmi", "singleton"
  std::optional<int> rank;             // global rank, when the launcher says it
  std::optional<int> world_size;
  std::optional<int> local_rank;  // rank among the processes of this host
  std::optional<int> local_size;
};

// Reads the launcher variables through `getenv_fn` (tests pass a fake environment).
LaunchEnv ReadLaunchEnv(const std::function<const char*(const char*)>& getenv_fn);

// The same, from the process environment.
LaunchEnv ReadLaunchEnv();

}  // namespace zerod::comm
