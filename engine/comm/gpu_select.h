// Which GPU a rank uses, from what the rank can see, and whether the ranks agree (issue 27).
//
// Launchers bind GPUs in two ways. `mpirun` (or srun without GPU binding) shows every rank of
// a host all the host's GPUs: rank `local_rank` takes GPU `local_rank`. `srun
// --gpus-per-task=1`, `--gpu-bind` or a site's prolog show each task only its own GPU, as
// index 0: it takes that one, whatever its local rank. Anything in between (more ranks on a
// host than GPUs it sees, but more than one GPU) is a launch mistake, said with the host,
// the counts and CUDA_VISIBLE_DEVICES. Then the ranks compare: all on GPUs, or all on the
// CPU (no GPU anywhere); some with and some without is an error, never a silent CPU job,
// and so are two ranks of one host on the same GPU.
//
// Pure functions, no CUDA: the daemon fills the views (daemon/device_comm.cpp) and tests
// pass made-up ones (tests/hosts/gpu_select_test.cpp). Not here: opening the GPU or NCCL.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace zerod::comm {

// What one rank sees.
struct RankGpuView {
  int rank = 0;           // global rank
  std::string host;       // gethostname()
  int local_rank = 0;     // among the ranks of `host`
  int local_size = 1;     // ranks on `host`
  int visible = 0;        // GPUs this process sees (cudaGetDeviceCount; 0 without CUDA)
  std::string cuda_visible_devices;  // the variable as set, or "" when unset
  std::string bus_id;     // PCI bus id of the GPU it chose ("" when none); fills in after
                          // SelectGpu, for the duplicate check
};

// The CUDA index this rank uses, nullopt for none (it sees no GPU), or FailedPrecondition
// when it sees more than one GPU but fewer than the ranks on its host.
absl::StatusOr<std::optional<int>> SelectGpu(const RankGpuView& view);

// Every rank's view (index = rank) -> true: every rank on its GPU; false: every rank on the
// CPU. FailedPrecondition, naming ranks and hosts, when some ranks have a GPU and others
// not, two ranks of one host chose the same GPU, or any rank's SelectGpu failed (the
// lowest such rank's error). The same answer on every rank, as every rank has every view.
absl::StatusOr<bool> AgreeOnGpus(const std::vector<RankGpuView>& views);

}  // namespace zerod::comm
