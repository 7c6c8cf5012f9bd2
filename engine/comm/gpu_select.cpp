#include "engine/comm/gpu_select.h"

#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace zerod::comm {
namespace {

std::string VisibleDevices(const RankGpuView& v) {
  return v.cuda_visible_devices.empty() ? "CUDA_VISIBLE_DEVICES unset"
                                        : "CUDA_VISIBLE_DEVICES=" + v.cuda_visible_devices;
}

// "ranks 2, 3 (host b), 5 (host c)": ranks grouped by host, in rank order.
std::string NameRanks(const std::vector<const RankGpuView*>& ranks) {
  std::vector<std::string> parts;
  std::string host;
  std::vector<std::string> run;
  auto flush = [&] {
    if (!run.empty()) parts.push_back(absl::StrCat(absl::StrJoin(run, ", "), " (host ", host, ")"));
    run.clear();
  };
  for (const RankGpuView* v : ranks) {
    if (v->host != host) flush();
    host = v->host;
    run.push_back(absl::StrCat(v->rank));
  }
  flush();
  return absl::StrCat(ranks.size() == 1 ? "rank " : "ranks ", absl::StrJoin(parts, ", "));
}

}  // namespace

absl::StatusOr<std::optional<int>> SelectGpu(const RankGpuView& v) {
  if (v.visible <= 0) return std::optional<int>();
  if (v.visible == 1) return std::optional<int>(0);  // bound by the launcher: its own GPU
  if (v.local_rank < v.visible && v.local_size <= v.visible) {
    return std::optional<int>(v.local_rank);
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "host ", v.host, " runs ", v.local_size, " ranks but rank ", v.rank, " (local rank ",
      v.local_rank, ") sees only ", v.visible, " GPUs (", VisibleDevices(v),
      "): launch at most ", v.visible,
      " ranks per host (mpirun -np / srun --ntasks-per-node), or give each task its own GPU "
      "(srun --gpus-per-task=1)"));
}

absl::StatusOr<bool> AgreeOnGpus(const std::vector<RankGpuView>& views) {
  std::vector<const RankGpuView*> with, without;
  std::map<std::pair<std::string, std::string>, const RankGpuView*> owner;  // (host, bus) ->
  for (const RankGpuView& v : views) {
    auto chosen = SelectGpu(v);
    if (!chosen.ok()) return chosen.status();
    (chosen->has_value() ? with : without).push_back(&v);
    if (!chosen->has_value() || v.bus_id.empty()) continue;
    auto [it, fresh] = owner.emplace(std::make_pair(v.host, v.bus_id), &v);
    if (!fresh) {
      return absl::FailedPreconditionError(absl::StrCat(
          "ranks ", it->second->rank, " and ", v.rank, " on host ", v.host,
          " would share the GPU at ", v.bus_id, " (each sees ", v.visible, ", ",
          VisibleDevices(v), "): give each rank its own GPU (srun --gpus-per-task=1, or "
          "mpirun with all GPUs visible)"));
    }
  }
  if (!with.empty() && !without.empty()) {
    const RankGpuView& example = *without.front();
    return absl::FailedPreconditionError(absl::StrCat(
        NameRanks(without), " see no GPU while ", NameRanks(with),
        " do (rank ", example.rank, ": ", VisibleDevices(example),
        "): every rank must have a GPU, or none (a CPU job); check the launch's GPU binding "
        "(--gpus-per-node, --gres, CUDA_VISIBLE_DEVICES)"));
  }
  return !with.empty();
}

}  // namespace zerod::comm
