// The memory this process may use: the host's MemTotal, or less where a cgroup limits it
// (Slurm's task/cgroup plugin, a container). Issue 27: a plan made from MemTotal on a node
// where Slurm grants part of it ends in the OOM killer.
//
// Read from /proc/self/cgroup: cgroup v2 ("0::/PATH", memory.max) and v1 ("N:memory:/PATH",
// memory.limit_in_bytes), the smallest limit of the group and its ancestors ("max" and
// v1's near-2^63 "unlimited" are no limit). Torch-free, no MPI.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace zerod {

// The tightest cgroup memory limit in bytes, or nullopt when none applies.
// `proc_self_cgroup`: the text of /proc/self/cgroup; `root`: where cgroups are mounted
// (/sys/fs/cgroup); tests pass a made-up tree.
std::optional<int64_t> CgroupMemoryLimit(const std::string& proc_self_cgroup,
                                         const std::string& root);

struct HostMemory {
  int64_t bytes = 0;   // what the plan may count on; 0 if unknown
  std::string source;  // "MemTotal" or "cgroup memory limit (MemTotal 125.0 GiB)"
};

// This process's host memory: min(MemTotal, the cgroup limit).
HostMemory ThisHostMemory();

}  // namespace zerod
