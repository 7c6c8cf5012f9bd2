#include "engine/util/proc_stats.h"

#include <unistd.h>

#include <fstream>

namespace zerod {

int64_t ResidentSetBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace zerod
