#include "engine/plan/host_check.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/plan/memory_model.h"
#include "engine/plan/plan.h"

namespace zerod::plan {

absl::Status CheckPlanOnHost(const Plan& plan, const HostFacts& here) {
  const int ranks = std::max(1, here.ranks_on_host);
  const int64_t host_usable = std::max<int64_t>(
      0, here.host_bytes / ranks - HostReserveBytes(here.host_bytes) / ranks);
  if (plan.host.Total() > host_usable) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "host ", here.host, " (rank ", here.rank, ") cannot hold rank 0's plan: it needs ",
        FormatGiB(plan.host.Total()), " of host memory per rank, and this host's ", ranks,
        " ranks have ", FormatGiB(host_usable), " each (", FormatGiB(here.host_bytes), " from ",
        here.host_source, ", less the system's reserve); plan for the smallest host "
        "(ZEROD_HOST_MEMORY=SIZE on every rank) or give this host fewer ranks"));
  }
  if (here.gpu) {
    const int64_t gpu_usable =
        std::max<int64_t>(0, here.gpu_bytes - GpuReserveBytes(here.gpu_bytes));
    if (plan.gpu.Total() > gpu_usable) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "host ", here.host, " (rank ", here.rank, ") cannot hold rank 0's plan: it needs ",
          FormatGiB(plan.gpu.Total()), " of GPU memory per rank and this rank's GPU has ",
          FormatGiB(gpu_usable), " usable; plan for the smallest GPU (ZEROD_GPU_MEMORY=SIZE "
          "on every rank)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> RanksPerHost(int world_size, int hosts, int ranks_per_host, bool gpu) {
  if (ranks_per_host > 0) return ranks_per_host;
  if (hosts > 0) {
    if (world_size % hosts != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--world-size ", world_size, " is not a whole number of ranks on each of --hosts ",
          hosts, " (", world_size, " % ", hosts, " = ", world_size % hosts,
          "); give --ranks-per-host for uneven hosts (the plan takes the fullest)"));
    }
    return world_size / hosts;
  }
  return gpu ? std::min(world_size, 8) : world_size;
}

}  // namespace zerod::plan
