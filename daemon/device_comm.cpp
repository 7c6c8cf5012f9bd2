#include "daemon/device_comm.h"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/comm/bounded_wait.h"
#include "engine/comm/gpu_select.h"
#include "engine/comm/watchdog.h"

#ifdef ZEROD_CUDA
#include "engine/comm/gpu_communicator.h"
#endif

namespace zerod::daemon {
namespace {

// One rank's RankGpuView on the wire (fixed size, for one all-gather).
struct ViewRecord {
  int32_t rank, local_rank, local_size, visible;
  char host[64];
  char cuda_visible_devices[128];
  char bus_id[32];
};

void Put(char* to, size_t size, const std::string& from) {
  std::snprintf(to, size, "%s", from.c_str());
}

comm::RankGpuView MyView(comm::MpiCommunicator& mpi) {
  comm::RankGpuView v;
  v.rank = mpi.rank();
  char host[64] = {};
  gethostname(host, sizeof(host) - 1);
  v.host = host;
  v.local_rank = mpi.local_rank();
  v.local_size = mpi.local_size();
  const char* cvd = std::getenv("CUDA_VISIBLE_DEVICES");
  v.cuda_visible_devices = cvd == nullptr ? "" : cvd;
#ifdef ZEROD_CUDA
  v.visible = comm::VisibleGpus();
  if (auto chosen = comm::SelectGpu(v); chosen.ok() && chosen->has_value()) {
    v.bus_id = comm::GpuBusId(**chosen);
  }
#endif
  return v;
}

absl::StatusOr<std::vector<comm::RankGpuView>> GatherViews(comm::MpiCommunicator& mpi) {
  const comm::RankGpuView mine = MyView(mpi);
  ViewRecord record{};
  record.rank = mine.rank;
  record.local_rank = mine.local_rank;
  record.local_size = mine.local_size;
  record.visible = mine.visible;
  Put(record.host, sizeof(record.host), mine.host);
  Put(record.cuda_visible_devices, sizeof(record.cuda_visible_devices), mine.cuda_visible_devices);
  Put(record.bus_id, sizeof(record.bus_id), mine.bus_id);
  std::vector<ViewRecord> all(static_cast<size_t>(mpi.world_size()));
  auto work = mpi.AllGatherAsync(&record, all.data(), sizeof(record), DType::kUInt8);
  if (!work.ok()) return work.status();
  if (auto s = (*work)->Wait(); !s.ok()) return s;
  std::vector<comm::RankGpuView> views;
  for (const ViewRecord& r : all) {
    comm::RankGpuView v;
    v.rank = r.rank;
    v.local_rank = r.local_rank;
    v.local_size = r.local_size;
    v.visible = r.visible;
    v.host = std::string(r.host, strnlen(r.host, sizeof(r.host)));
    v.cuda_visible_devices =
        std::string(r.cuda_visible_devices, strnlen(r.cuda_visible_devices, 128));
    v.bus_id = std::string(r.bus_id, strnlen(r.bus_id, sizeof(r.bus_id)));
    views.push_back(std::move(v));
  }
  return views;
}

}  // namespace

absl::StatusOr<std::unique_ptr<comm::Communicator>> GpuCommunicator(comm::MpiCommunicator& mpi) {
  comm::StartWatchdog();
  comm::MarkProgress("choosing the GPU");
  auto views = GatherViews(mpi);
  if (!views.ok()) return views.status();
  auto use_gpus = comm::AgreeOnGpus(*views);
  if (!use_gpus.ok()) return use_gpus.status();
  if (!*use_gpus) return std::unique_ptr<comm::Communicator>();
#ifdef ZEROD_CUDA
  // NCCL's start-up and host-side waits share the collective timeout (0: a day, i.e.
  // unbounded).
  const double limit = comm::CollectiveTimeout();
  const int device = **comm::SelectGpu((*views)[static_cast<size_t>(mpi.rank())]);
  comm::MarkProgress("starting NCCL");
  return comm::CreateNcclCommunicator(
      &mpi, device,
      std::chrono::seconds(limit > 0 ? static_cast<int64_t>(std::ceil(limit)) : 86400));
#else
  return std::unique_ptr<comm::Communicator>();
#endif
}

}  // namespace zerod::daemon
