#include "engine/util/cgroup_memory.h"

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "engine/util/proc_stats.h"

namespace zerod {
namespace {

// v1 writes "no limit" as the largest page-aligned int64 (9223372036854771712).
constexpr int64_t kNoLimitAbove = int64_t{1} << 60;

std::optional<int64_t> ReadLimit(const std::string& file) {
  std::ifstream in(file);
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  int64_t value = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &value)) return std::nullopt;  // "max"
  if (value <= 0 || value >= kNoLimitAbove) return std::nullopt;
  return value;
}

// The smallest limit named `file` in `dir` + path and each ancestor of path.
std::optional<int64_t> TightestAlong(const std::string& dir, std::string path,
                                     const std::string& file) {
  std::optional<int64_t> best;
  while (true) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    const std::string at = dir + (path == "/" ? "" : path) + "/" + file;
    if (auto v = ReadLimit(at)) best = best ? std::min(*best, *v) : *v;
    if (path.empty() || path == "/") break;
    const size_t slash = path.rfind('/');
    path = slash == 0 || slash == std::string::npos ? "/" : path.substr(0, slash);
  }
  return best;
}

}  // namespace

std::optional<int64_t> CgroupMemoryLimit(const std::string& proc_self_cgroup,
                                         const std::string& root) {
  std::optional<int64_t> best;
  auto take = [&best](std::optional<int64_t> v) {
    if (v) best = best ? std::min(*best, *v) : *v;
  };
  for (absl::string_view line : absl::StrSplit(proc_self_cgroup, '\n')) {
    const std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (f.size() != 3) continue;
    const std::string& path = f[2];
    if (f[0] == "0" && f[1].empty()) {  // v2: the unified hierarchy (or hybrid's unified/)
      take(TightestAlong(root, path, "memory.max"));
      take(TightestAlong(root + "/unified", path, "memory.max"));
      continue;
    }
    const std::vector<std::string> controllers = absl::StrSplit(f[1], ',');
    if (std::find(controllers.begin(), controllers.end(), "memory") != controllers.end()) {
      take(TightestAlong(root + "/memory", path, "memory.limit_in_bytes"));
    }
  }
  return best;
}

HostMemory ThisHostMemory() {
  HostMemory m{HostMemoryBytes(), "MemTotal"};
  std::ifstream in("/proc/self/cgroup");
  std::stringstream text;
  text << in.rdbuf();
  const std::optional<int64_t> limit = CgroupMemoryLimit(text.str(), "/sys/fs/cgroup");
  if (limit && (m.bytes == 0 || *limit < m.bytes)) {
    m.source = absl::StrFormat("the cgroup's memory limit (MemTotal %.1f GiB)",
                               static_cast<double>(m.bytes) / (int64_t{1} << 30));
    m.bytes = *limit;
  }
  return m;
}

}  // namespace zerod
