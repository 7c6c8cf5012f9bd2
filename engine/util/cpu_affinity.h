// Open MPI binds each rank to one core when it starts two ranks or fewer (its default
// "--bind-to core"). That suits MPI but starves zerod's CPU optimizer, which wants every
// core of the host divided among its local ranks. Torch-free.
#pragma once

#include <string>

namespace zerod {

// If this process may run on fewer CPUs than its share of the host (hardware CPUs /
// local_size), widens its affinity to the share [local_rank * share, +share) and
// returns a note saying so; returns "" when nothing changed. Call before any CPU thread
// pool starts.
std::string WidenCpuAffinity(int local_rank, int local_size);

}  // namespace zerod
