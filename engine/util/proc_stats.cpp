#include "engine/util/proc_stats.h"

#include <unistd.h>

#include <fstream>
#include <string>

namespace zerod {

int64_t ResidentSetBytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return 0;
  return resident * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

namespace {

// The value in kiB of `key` ("VmHWM:") in a /proc file of "key value kB" lines, in bytes.
int64_t ReadKiBField(const char* path, const std::string& wanted) {
  std::ifstream file(path);
  std::string key;
  while (file >> key) {
    if (key == wanted) {
      int64_t kib = 0;
      file >> kib;
      return kib * 1024;
    }
    std::getline(file, key);
  }
  return 0;
}

}  // namespace

int64_t HostMemoryBytes() { return ReadKiBField("/proc/meminfo", "MemTotal:"); }

int64_t PeakResidentSetBytes() { return ReadKiBField("/proc/self/status", "VmHWM:"); }

bool ResetPeakResidentSetBytes() {
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  clear.flush();
  return static_cast<bool>(clear);
}

std::string HostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "localhost";
  return name;
}

}  // namespace zerod
