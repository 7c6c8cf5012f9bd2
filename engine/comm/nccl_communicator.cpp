#include "engine/comm/nccl_communicator.h"

#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>
#include <nccl.h>

#include <algorithm>
#include <thread>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "engine/comm/bounded_wait.h"
#include "engine/comm/gpu_communicator.h"
#include "engine/comm/watchdog.h"

namespace zerod::comm {
namespace {

absl::Status NcclCheck(ncclResult_t rc, const char* call, const char* file, int line) {
  if (rc == ncclSuccess) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat(call, " failed at ", file, ":", line, ": ", ncclGetErrorString(rc)));
}
absl::Status CudaCheck(cudaError_t rc, const char* call, const char* file, int line) {
  if (rc == cudaSuccess) return absl::OkStatus();
  return absl::InternalError(
      absl::StrCat(call, " failed at ", file, ":", line, ": ", cudaGetErrorString(rc)));
}
#define NCCL_CHECK(call) NcclCheck((call), #call, __FILE__, __LINE__)
#define CUDA_CHECK(call) CudaCheck((call), #call, __FILE__, __LINE__)

ncclDataType_t ToNccl(DType dtype) {
  switch (dtype) {  // the NCCL column of util/dtype.h's table
#define ZEROD_DTYPE_CASE(e, name, bytes, st, mpi, nccl, torch) \
  case DType::e:                                               \
    return nccl;
    ZEROD_DTYPE_TABLE(ZEROD_DTYPE_CASE)
#undef ZEROD_DTYPE_CASE
  }
  return ncclUint8;
}

// The collective's completion, as an event on the communicator's stream.
class NcclWork final : public Work {
 public:
  explicit NcclWork(cudaEvent_t event) : event_(event) {}
  ~NcclWork() override { cudaEventDestroy(event_); }
  absl::Status Wait() override {
    // The caller's current stream waits; the host does not.
    return CUDA_CHECK(cudaStreamWaitEvent(c10::cuda::getCurrentCUDAStream().stream(), event_, 0));
  }

 private:
  cudaEvent_t event_;
};

}  // namespace

struct NcclCommunicator::Impl {
  ncclComm_t comm = nullptr;
  int device = 0;
  c10::cuda::CUDAStream stream = c10::cuda::getDefaultCUDAStream();
  std::chrono::seconds timeout{600};
  absl::Status failed;  // sticky
};

static absl::Status FinishNccl(ncclComm_t comm, ncclResult_t rc, const char* call,
                               std::chrono::steady_clock::time_point deadline);

NcclCommunicator::NcclCommunicator(MpiCommunicator* mpi, std::unique_ptr<Impl> impl)
    : mpi_(mpi), impl_(std::move(impl)) {}

NcclCommunicator::~NcclCommunicator() {
  SetNcclAbortForWatchdog(nullptr);
  if (impl_->comm == nullptr) return;
  if (impl_->failed.ok()) {
    // A nonblocking communicator finalizes asynchronously: wait for it (bounded) first.
    const auto deadline = std::chrono::steady_clock::now() + impl_->timeout;
    if (FinishNccl(impl_->comm, ncclCommFinalize(impl_->comm), "ncclCommFinalize", deadline).ok()) {
      ncclCommDestroy(impl_->comm);
    } else {
      ncclCommAbort(impl_->comm);
    }
  } else {
    ncclCommAbort(impl_->comm);
  }
}

namespace {

// Test-only (ZEROD_TEST_STALL=R:S:cuda): the main thread blocks inside a CUDA call, as a
// rank behind a spinning NCCL kernel does: a host function that never returns holds the
// stream, and the stream's synchronise never returns either.
void StallInCuda() {
  cudaStream_t stream = c10::cuda::getCurrentCUDAStream().stream();
  cudaLaunchHostFunc(
      stream, [](void*) { while (true) pause(); }, nullptr);
  cudaStreamSynchronize(stream);
  while (true) pause();
}

}  // namespace

// Waits, within `deadline`, for a call on a nonblocking communicator to finish: NCCL answers
// ncclInProgress until it has, and the communicator's async error then says how it went.
static absl::Status FinishNccl(ncclComm_t comm, ncclResult_t rc, const char* call,
                        std::chrono::steady_clock::time_point deadline) {
  auto backoff = std::chrono::microseconds(20);
  while (rc == ncclInProgress) {
    if (std::chrono::steady_clock::now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(call, " did not finish within the timeout"));
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::microseconds(2000));
    MarkProgress(call);
    if (ncclCommGetAsyncError(comm, &rc) != ncclSuccess) break;
  }
  if (rc == ncclSuccess) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(call, " failed: ", ncclGetErrorString(rc)));
}

absl::StatusOr<std::unique_ptr<NcclCommunicator>> NcclCommunicator::Create(
    MpiCommunicator* mpi, int device, std::chrono::seconds timeout) {
  auto impl = std::make_unique<Impl>();
  impl->device = device;
  impl->timeout = timeout;
  // The communicator binds this process to its GPU for good, not for this call: the CUDA
  // runtime calls that follow (events, the current stream of collectives and of the
  // engine's side streams) go to the current device, and a rank whose current device is
  // still GPU 0 records its events there while its streams are on its own GPU (the GPU tests,
  // which make no engine setup that sets the device, hung so at world 2).
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(device));
  impl->stream =
      c10::cuda::getStreamFromPool(/*isHighPriority=*/true, static_cast<c10::DeviceIndex>(device));

  ncclUniqueId id;
  absl::Status got = absl::OkStatus();
  if (mpi->rank() == 0) got = NCCL_CHECK(ncclGetUniqueId(&id));
  if (auto s = AgreeOnStatus(*mpi, got); !s.ok()) return s;
  if (auto s = mpi->Broadcast(&id, sizeof(id), 0); !s.ok()) return s;
  // Start-up is bounded (issue 27): a nonblocking communicator's init returns at once and
  // is polled until it finishes or the collective timeout passes (a peer that never joins
  // would otherwise keep ncclCommInitRank waiting for ever). Then every rank learns every
  // other's outcome, so all of them have NCCL or none does.
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  absl::Status local =
      NCCL_CHECK(ncclCommInitRankConfig(&impl->comm, mpi->world_size(), id, mpi->rank(), &config));
  if (local.ok() || impl->comm != nullptr) {
    ncclResult_t state = ncclInProgress;
    if (impl->comm != nullptr) ncclCommGetAsyncError(impl->comm, &state);
    local = FinishNccl(impl->comm, state, "ncclCommInitRankConfig", deadline);
  }
  if (!local.ok()) {
    local = absl::Status(local.code(),
                         absl::StrCat("NCCL start-up on rank ", mpi->rank(), " (GPU ", device,
                                      "): ", local.message()));
  }
  if (auto agreed = AgreeOnStatus(*mpi, local); !agreed.ok()) {
    if (impl->comm != nullptr) ncclCommAbort(impl->comm);
    impl->comm = nullptr;
    return agreed;
  }
  auto created = std::unique_ptr<NcclCommunicator>(new NcclCommunicator(mpi, std::move(impl)));
  // The watchdog ends a hung rank by aborting NCCL first (a spinning NCCL kernel holds the
  // GPU, and with it any CUDA call of the main thread), then MPI.
  ncclComm_t handle = created->impl_->comm;
  SetNcclAbortForWatchdog([handle] { ncclCommAbort(handle); });
  SetCudaStallForTest(&StallInCuda);
  return created;
}

int NcclCommunicator::device() const { return impl_->device; }

absl::Status NcclCommunicator::Fail(absl::Status status) {
  if (impl_->failed.ok()) {
    SetNcclAbortForWatchdog(nullptr);
    impl_->failed = status;
    ncclCommAbort(impl_->comm);
    impl_->comm = nullptr;
  }
  return impl_->failed;
}

namespace {

// Orders the communicator's stream after the caller's current stream.
absl::Status FollowCurrentStream(cudaStream_t comm_stream) {
  cudaEvent_t ready;
  auto s = CUDA_CHECK(cudaEventCreateWithFlags(&ready, cudaEventDisableTiming));
  if (!s.ok()) return s;
  s = CUDA_CHECK(cudaEventRecord(ready, c10::cuda::getCurrentCUDAStream().stream()));
  if (s.ok()) s = CUDA_CHECK(cudaStreamWaitEvent(comm_stream, ready, 0));
  cudaEventDestroy(ready);
  return s;
}

absl::StatusOr<std::unique_ptr<Work>> Completion(cudaStream_t stream) {
  cudaEvent_t done;
  if (auto s = CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming)); !s.ok())
    return s;
  if (auto s = CUDA_CHECK(cudaEventRecord(done, stream)); !s.ok()) {
    cudaEventDestroy(done);
    return s;
  }
  return std::unique_ptr<Work>(new NcclWork(done));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Work>> NcclCommunicator::AllGatherAsync(const void* send, void* recv,
                                                                       size_t count, DType dtype) {
  if (!impl_->failed.ok()) return impl_->failed;
  cudaStream_t stream = impl_->stream.stream();
  if (auto s = FollowCurrentStream(stream); !s.ok()) return Fail(s);
  MarkProgress("nccl all-gather");
  if (auto s = FinishNccl(impl_->comm,
                          ncclAllGather(send, recv, count, ToNccl(dtype), impl_->comm, stream),
                          "ncclAllGather", std::chrono::steady_clock::now() + impl_->timeout);
      !s.ok()) {
    return Fail(s);
  }
  return Completion(stream);
}

absl::StatusOr<std::unique_ptr<Work>> NcclCommunicator::ReduceScatterAsync(const void* send,
                                                                           void* recv, size_t count,
                                                                           DType dtype,
                                                                           ReduceOp op) {
  if (!impl_->failed.ok()) return impl_->failed;
  cudaStream_t stream = impl_->stream.stream();
  if (auto s = FollowCurrentStream(stream); !s.ok()) return Fail(s);
  const ncclRedOp_t nccl_op = op == ReduceOp::kSum ? ncclSum : ncclMax;
  MarkProgress("nccl reduce-scatter");
  if (auto s = FinishNccl(
          impl_->comm,
          ncclReduceScatter(send, recv, count, ToNccl(dtype), nccl_op, impl_->comm, stream),
          "ncclReduceScatter", std::chrono::steady_clock::now() + impl_->timeout);
      !s.ok()) {
    return Fail(s);
  }
  return Completion(stream);
}

absl::Status NcclCommunicator::AllReduce(void* buf, size_t count, DType dtype, ReduceOp op) {
  return mpi_->AllReduce(buf, count, dtype, op);
}

absl::Status NcclCommunicator::Broadcast(void* buf, size_t bytes, int root) {
  return mpi_->Broadcast(buf, bytes, root);
}

absl::Status NcclCommunicator::Barrier() { return mpi_->Barrier(); }

absl::Status NcclCommunicator::Synchronize() {
  if (!impl_->failed.ok()) return impl_->failed;
  const auto deadline = std::chrono::steady_clock::now() + impl_->timeout;
  auto backoff = std::chrono::microseconds(20);
  while (true) {
    cudaError_t q = cudaStreamQuery(impl_->stream.stream());
    if (q == cudaSuccess) return absl::OkStatus();
    if (q != cudaErrorNotReady) return Fail(CUDA_CHECK(q));
    ncclResult_t async = ncclSuccess;
    ncclCommGetAsyncError(impl_->comm, &async);
    if (async != ncclSuccess && async != ncclInProgress) return Fail(NCCL_CHECK(async));
    MarkProgress("nccl synchronize");
    if (std::chrono::steady_clock::now() > deadline) {
      const std::string message = absl::StrCat(
          "collective timeout: an NCCL collective on rank ", rank(), " did not finish within ",
          impl_->timeout.count(),
          " s (a peer died or hangs); the communicator was aborted. If a step can legitimately "
          "take this long, raise --collective-timeout");
      NoteCollectiveTimeout(message);
      return Fail(absl::DeadlineExceededError(message));
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::microseconds(2000));
  }
}

absl::StatusOr<std::unique_ptr<Communicator>> CreateNcclCommunicator(MpiCommunicator* mpi,
                                                                     int device,
                                                                     std::chrono::seconds timeout) {
  auto nccl = NcclCommunicator::Create(mpi, device, timeout);
  if (!nccl.ok()) return nccl.status();
  return std::unique_ptr<Communicator>(std::move(nccl).value());
}

}  // namespace zerod::comm

namespace zerod::comm {

int VisibleGpus() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}

std::string GpuBusId(int device) {
  char id[32] = {};
  if (cudaDeviceGetPCIBusId(id, sizeof(id), device) != cudaSuccess) return "";
  return id;
}

}  // namespace zerod::comm
