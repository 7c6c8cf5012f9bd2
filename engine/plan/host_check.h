// One plan for every host (issue 27). Rank 0 plans from its host's memory; every rank plans
// the same from rank 0's numbers (the plan is arithmetic over identical inputs) and checks
// it against its own host's memory and GPU, so hosts never pick different placements and a
// host with less memory (a tighter cgroup, a smaller GPU) is named instead of running out.
// And how many ranks share a host when `zerod --plan` is told only the world size.
// Torch-free, no MPI.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/plan/plan.h"

namespace zerod::plan {

// One rank's host as that rank sees it.
struct HostFacts {
  int rank = 0;
  std::string host;
  int ranks_on_host = 1;
  int64_t host_bytes = 0;   // min(MemTotal, cgroup limit), or ZEROD_HOST_MEMORY
  std::string host_source;  // where host_bytes came from ("MemTotal", "the cgroup's ...")
  bool gpu = false;
  int64_t gpu_bytes = 0;
};

// OK when `plan` (made elsewhere) fits this host: its per-rank host bytes within this
// host's share after the reserve, its GPU bytes within this GPU's. Else ResourceExhausted
// naming the host, the rank, both sides and where this host's number came from.
absl::Status CheckPlanOnHost(const Plan& plan, const HostFacts& here);

// Ranks per host for `zerod --plan`: --ranks-per-host when given (> 0), else the world
// split over --hosts (> 0; InvalidArgument unless it divides the world size), else, for a
// GPU plan, a host of 8 GPUs (the common node; fewer when the world is smaller) and, for
// a CPU plan, every rank on one host.
absl::StatusOr<int> RanksPerHost(int world_size, int hosts, int ranks_per_host, bool gpu);

}  // namespace zerod::plan
