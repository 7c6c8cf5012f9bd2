#include "engine/util/cpu_affinity.h"

#include <sched.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"

namespace zerod {

std::string WidenCpuAffinity(int local_rank, int local_size) {
  cpu_set_t current;
  CPU_ZERO(&current);
  if (sched_getaffinity(0, sizeof(current), &current) != 0) return "";
  const int allowed = CPU_COUNT(&current);
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  const int share = std::max(1, cores / std::max(1, local_size));
  if (allowed >= share) return "";
  cpu_set_t wider;
  CPU_ZERO(&wider);
  const int first = std::min(local_rank * share, cores - share);
  for (int c = first; c < first + share; ++c) CPU_SET(c, &wider);
  if (sched_setaffinity(0, sizeof(wider), &wider) != 0) return "";
  return absl::StrCat("the launcher bound this rank to ", allowed, " CPU(s); widened to CPUs ",
                      first, "-", first + share - 1,
                      " for the CPU optimizer (mpirun --bind-to none avoids this)");
}

}  // namespace zerod
