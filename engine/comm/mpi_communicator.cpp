#include "engine/comm/mpi_communicator.h"

#include <mpi.h>

#include <climits>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/comm/bounded_wait.h"
#include "engine/comm/mpi_status.h"

namespace zerod::comm {
namespace {

absl::StatusOr<MPI_Datatype> ToMpi(DType dtype) {
  switch (dtype) {  // the MPI column of util/dtype.h's table
#define ZEROD_DTYPE_CASE(e, name, bytes, st, mpi, nccl, torch) \
  case DType::e:                                               \
    return mpi;
    ZEROD_DTYPE_TABLE(ZEROD_DTYPE_CASE)
#undef ZEROD_DTYPE_CASE
  }
  return absl::InvalidArgumentError("unknown dtype");
}

MPI_Op ToMpi(ReduceOp op) { return op == ReduceOp::kSum ? MPI_SUM : MPI_MAX; }

absl::Status CheckCount(size_t count) {
  if (count > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat("MPI collective of ", count, " elements exceeds INT_MAX per call"));
  }
  return absl::OkStatus();
}

class MpiWork final : public Work {
 public:
  ~MpiWork() override { (void)Wait(); }
  MpiWork(MPI_Request request, const char* what) : request_(request), what_(what) {}
  absl::Status Wait() override {
    if (request_ == MPI_REQUEST_NULL) return absl::OkStatus();
    if (CollectiveTimedOut()) return absl::AbortedError("MPI is unusable after a timeout");
    return BoundedWait(&request_, what_);
  }

 private:
  MPI_Request request_;
  const char* what_;
};

}  // namespace

struct MpiCommunicator::Impl {
  MPI_Comm comm = MPI_COMM_NULL;
};

absl::StatusOr<std::unique_ptr<MpiRuntime>> MpiRuntime::Init(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (initialized) return absl::FailedPreconditionError("MPI is already initialised");
  int provided = 0;
  if (auto s = MPI_STATUS(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided)); !s.ok()) {
    return s;
  }
  return std::unique_ptr<MpiRuntime>(new MpiRuntime());
}

void MpiRuntime::Abort(int code) {
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; if it did, do not finalize either
}

MpiRuntime::~MpiRuntime() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

MpiCommunicator::MpiCommunicator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MpiCommunicator::~MpiCommunicator() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && impl_->comm != MPI_COMM_NULL) MPI_Comm_free(&impl_->comm);
}

absl::StatusOr<std::unique_ptr<MpiCommunicator>> MpiCommunicator::CreateWorld() {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    return absl::FailedPreconditionError(
        "the MPI communicator needs MPI initialised first (MpiRuntime::Init)");
  }
  auto impl = std::make_unique<Impl>();
  if (auto s = MPI_STATUS(MPI_Comm_dup(MPI_COMM_WORLD, &impl->comm)); !s.ok()) return s;
  // Errors come back as return codes (turned into Status), never as an abort.
  MPI_Comm_set_errhandler(impl->comm, MPI_ERRORS_RETURN);

  std::unique_ptr<MpiCommunicator> comm(new MpiCommunicator(std::move(impl)));
  MPI_Comm mpi = comm->impl_->comm;
  MPI_Comm_rank(mpi, &comm->rank_);
  MPI_Comm_size(mpi, &comm->world_size_);
  // The local rank is asked of MPI itself (ranks sharing this host), which holds
  // under every launcher; the environment only names the launcher.
  MPI_Comm node;
  if (auto s = MPI_STATUS(
          MPI_Comm_split_type(mpi, MPI_COMM_TYPE_SHARED, comm->rank_, MPI_INFO_NULL, &node));
      !s.ok()) {
    return s;
  }
  MPI_Comm_rank(node, &comm->local_rank_);
  MPI_Comm_size(node, &comm->local_size_);
  MPI_Comm_free(&node);
  comm->launch_env_ = ReadLaunchEnv();
  if (auto s = InitActivityBoard(mpi); !s.ok()) return s;
  return comm;
}

absl::StatusOr<std::unique_ptr<Work>> MpiCommunicator::AllGatherAsync(const void* send, void* recv,
                                                                      size_t count, DType dtype) {
  if (auto s = CheckCount(count); !s.ok()) return s;
  auto type = ToMpi(dtype);
  if (!type.ok()) return type.status();
  MPI_Request request;
  auto s = MPI_STATUS(MPI_Iallgather(send, static_cast<int>(count), *type, recv,
                                     static_cast<int>(count), *type, impl_->comm, &request));
  if (!s.ok()) return s;
  return std::unique_ptr<Work>(new MpiWork(request, "all-gather"));
}

absl::StatusOr<std::unique_ptr<Work>> MpiCommunicator::ReduceScatterAsync(const void* send,
                                                                          void* recv, size_t count,
                                                                          DType dtype,
                                                                          ReduceOp op) {
  if (!SupportsReduce(dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("MPI cannot reduce ", DTypeName(dtype), "; reduce in float32"));
  }
  if (auto s = CheckCount(count); !s.ok()) return s;
  auto type = ToMpi(dtype);
  if (!type.ok()) return type.status();
  MPI_Request request;
  auto s = MPI_STATUS(MPI_Ireduce_scatter_block(send, recv, static_cast<int>(count), *type,
                                                ToMpi(op), impl_->comm, &request));
  if (!s.ok()) return s;
  return std::unique_ptr<Work>(new MpiWork(request, "reduce-scatter"));
}

absl::Status MpiCommunicator::AllReduce(void* buf, size_t count, DType dtype, ReduceOp op) {
  if (!SupportsReduce(dtype)) {
    return absl::InvalidArgumentError(absl::StrCat("MPI cannot reduce ", DTypeName(dtype)));
  }
  if (auto s = CheckCount(count); !s.ok()) return s;
  auto type = ToMpi(dtype);
  if (!type.ok()) return type.status();
  MPI_Request request;
  MPI_RETURN_IF_ERROR(MPI_Iallreduce(MPI_IN_PLACE, buf, static_cast<int>(count), *type, ToMpi(op),
                                     impl_->comm, &request));
  return BoundedWait(&request, "all-reduce");
}

absl::Status MpiCommunicator::Broadcast(void* buf, size_t bytes, int root) {
  if (auto s = CheckCount(bytes); !s.ok()) return s;
  MPI_Request request;
  MPI_RETURN_IF_ERROR(
      MPI_Ibcast(buf, static_cast<int>(bytes), MPI_BYTE, root, impl_->comm, &request));
  return BoundedWait(&request, "broadcast");
}

absl::Status MpiCommunicator::Barrier() {
  MPI_Request request;
  MPI_RETURN_IF_ERROR(MPI_Ibarrier(impl_->comm, &request));
  return BoundedWait(&request, "barrier");
}

}  // namespace zerod::comm
