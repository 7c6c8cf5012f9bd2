#include "engine/zero/grad_stream.h"

#include "engine/util/check.h"
#include "engine/util/status_macros.h"
#include "engine/zero/status_exception.h"

namespace zerod::zero {
namespace {

// The squared L2 norm of `t` as a float64 scalar where `t` lives. linalg_vector_norm with
// dtype=float64 first makes a float64 copy of its input (20 bytes moved per element, a
// tenth of an MoE step's GPU time at 6.9B parameters), so on a GPU the rows of kNormRow
// elements are reduced in float32 (short sums: their rounding stays near float32's
// epsilon) and only their squares summed in float64. A host tensor keeps the float64
// reduction (the CPU reduces as it reads).
constexpr int64_t kNormRow = 4096;
torch::Tensor SquaredNorm(const torch::Tensor& t) {
  auto f64 = [](const torch::Tensor& x) {
    const torch::Tensor n = at::linalg_vector_norm(x, 2, c10::nullopt, false, torch::kFloat64);
    return n * n;
  };
  if (t.is_cpu()) return f64(t);
  const torch::Tensor flat = t.reshape({-1});
  const int64_t rows = flat.numel() / kNormRow, body = rows * kNormRow;
  const std::optional<torch::ScalarType> row_dtype =
      flat.scalar_type() == torch::kFloat32 ? std::nullopt : std::optional(torch::kFloat32);
  torch::Tensor sq = torch::zeros({}, flat.options().dtype(torch::kFloat64));
  if (rows > 0) {
    const torch::Tensor n = at::linalg_vector_norm(flat.narrow(0, 0, body).view({rows, kNormRow}),
                                                   2, {1}, false, row_dtype)
                                .to(torch::kFloat64);
    sq = (n * n).sum();
  }
  if (body < flat.numel()) sq = sq + f64(flat.narrow(0, body, flat.numel() - body));
  return sq;
}

}  // namespace

GradStream::GradStream(comm::Communicator* comm, DeviceStreams* streams, bool accumulate)
    : comm_(comm), streams_(streams), accumulate_(accumulate) {}

GradStream::~GradStream() { DrainHostCopies(); }

absl::StatusOr<std::unique_ptr<GradStream>> GradStream::Create(
    std::vector<ParamGroup*> groups, std::vector<plan::Where> holders, bool accumulate,
    comm::Communicator* comm, DeviceStreams* streams, offload::PinnedPool* pool) {
  std::unique_ptr<GradStream> s(new GradStream(comm, streams, accumulate));
  if (groups.empty()) return s;
  s->held_dtype_ = accumulate ? torch::kFloat32 : groups.front()->reduce_dtype();
  const auto device_options =
      torch::TensorOptions().dtype(s->held_dtype_).device(streams->device());
  int64_t largest_host = 0;
  auto allocate = [&]() -> absl::Status {
    for (size_t i = 0; i < groups.size(); ++i) {
      Record r;
      r.group = groups[i];
      r.holder = holders[i];
      const int64_t n = groups[i]->partition().shard_numel;
      if (r.holder == plan::Where::kDevice) {
        r.held = torch::zeros({n}, device_options);
      } else {
        // Pinned: the copies from the GPU are asynchronous.
        ASSIGN_OR_RETURN(r.held, PoolTensor(pool, n, s->held_dtype_));
        r.held.zero_();
        largest_host = std::max(largest_host, n);
      }
      s->records_.push_back(std::move(r));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(CatchToStatus(absl::StatusCode::kResourceExhausted,
                                "cannot allocate the gradient buffers the plan holds", allocate));
  if (accumulate && largest_host > 0 && streams->cuda()) {
    ASSIGN_OR_RETURN(s->staging_, PoolTensor(pool, largest_host, torch::kFloat32));
  }
  return s;
}

absl::Status GradStream::Issue(int group, const std::vector<torch::Tensor>& grads) {
  Record& r = records_[group];
  auto issue = [&] { return streams_->cuda() ? IssueOnGpu(r, grads) : IssueOnCpu(r, grads); };
  RETURN_IF_ERROR(CatchToStatus(absl::StatusCode::kInternal, "", issue));
  ++r.micro_batches;
  r.state = State::kIssued;
  return absl::OkStatus();
}

absl::Status GradStream::IssueOnCpu(Record& r, const std::vector<torch::Tensor>& grads) {
  torch::NoGradGuard no_grad;
  const bool first = r.micro_batches == 0;
  auto reduced = r.group->StartReduceScatter(grads, first ? r.held : torch::Tensor());
  RETURN_IF_ERROR(reduced.status());
  RETURN_IF_ERROR(reduced->work->Wait());
  if (!first) {
    r.held.add_(reduced->shard);
  } else if (!reduced->shard.is_same(r.held)) {
    r.held.copy_(reduced->shard);
  }
  return absl::OkStatus();
}

absl::Status GradStream::IssueOnGpu(Record& r, const std::vector<torch::Tensor>& grads) {
  torch::NoGradGuard no_grad;
  // The whole path runs on the copy-out stream, behind the backward kernels that produced
  // `grads` and beside the next unit's backward.
  auto scope = streams_->Enter(SideStream::kCopyOut);
  for (const auto& g : grads) streams_->KeepAliveOn(g, SideStream::kCopyOut);
  const bool first = r.micro_batches == 0;
  const bool direct = first && r.holder == plan::Where::kDevice;
  auto reduced = r.group->StartReduceScatter(grads, direct ? r.held : torch::Tensor());
  RETURN_IF_ERROR(reduced.status());
  RETURN_IF_ERROR(reduced->work->Wait());  // the copy-out stream waits for the reduce-scatter
  reduced->flat = torch::Tensor();
  const torch::Tensor& shard = reduced->shard;
  if (!first) device_sq_sum_valid_ = false;
  if (device_sq_sum_valid_) {
    const torch::Tensor sq = SquaredNorm(shard);
    device_sq_sum_ = device_sq_sum_.defined() ? device_sq_sum_ + sq : sq;
  }
  if (r.holder == plan::Where::kDevice) {
    if (!first) {
      r.held.add_(shard);
    } else if (!shard.is_same(r.held)) {
      r.held.copy_(shard);
    }
  } else if (first) {
    r.held.copy_(shard.to(held_dtype_), /*non_blocking=*/true);
  } else {
    // Micro-batches after the first: through the staging buffer, added on the host.
    DrainHostCopies();
    staging_.narrow(0, 0, shard.numel()).copy_(shard.to(torch::kFloat32), /*non_blocking=*/true);
    staged_copy_ = streams_->Mark();
    staged_group_ = static_cast<int>(&r - records_.data());
  }
  issued_.push_back(streams_->Mark());
  return absl::OkStatus();
}

bool GradStream::CompleteAfterIssue(int group) const {
  const Record& r = records_[group];
  return !(streams_->cuda() && r.holder == plan::Where::kHost && r.micro_batches > 1);
}

DeviceStreams::Marker GradStream::MarkIssued() {
  if (!streams_->cuda()) return streams_->Mark();
  auto scope = streams_->Enter(SideStream::kCopyOut);
  return streams_->Mark();
}

void GradStream::DrainHostCopies() {
  for (auto& m : issued_) m.HostWait();
  issued_.clear();
  if (staged_group_ >= 0) {
    staged_copy_.HostWait();
    torch::Tensor& held = records_[staged_group_].held;
    held.add_(staging_.narrow(0, 0, held.numel()));
    staged_group_ = -1;
  }
}

absl::Status GradStream::WaitAll() {
  // The communicator's own (bounded) wait first: if a peer is gone, the copies queued
  // behind its collectives would never finish, and waiting on them would hang.
  RETURN_IF_ERROR(comm_->Synchronize());
  DrainHostCopies();
  torch::NoGradGuard no_grad;
  for (Record& r : records_) {
    if (r.state == State::kEmpty) r.held.zero_();  // a unit unused this step
    r.state = State::kHeld;
  }
  return absl::OkStatus();
}

double GradStream::LocalSumOfSquares() {
  for (const Record& r : records_) ZEROD_CHECK(r.state != State::kIssued);
  torch::NoGradGuard no_grad;
  if (streams_->cuda() && device_sq_sum_valid_ && device_sq_sum_.defined()) {
    return device_sq_sum_.item<double>();
  }
  // One pass over the sums: device-held ones reduced on the device, one read back.
  torch::Tensor device_sum;
  double host_sum = 0.0;
  for (const Record& r : records_) {
    const torch::Tensor sq = SquaredNorm(r.held);
    if (r.held.is_cpu()) {
      host_sum += sq.item<double>();
    } else {
      device_sum = device_sum.defined() ? device_sum + sq : sq;
    }
  }
  return host_sum + (device_sum.defined() ? device_sum.item<double>() : 0.0);
}

void GradStream::Reset() {
  for (Record& r : records_) {
    r.state = State::kEmpty;
    r.micro_batches = 0;
  }
  device_sq_sum_ = torch::Tensor();
  device_sq_sum_valid_ = true;
}

int64_t GradStream::device_bytes() const {
  int64_t n = 0;
  for (const Record& r : records_) {
    if (r.holder == plan::Where::kDevice) n += r.held.nbytes();
  }
  return n;
}

int64_t GradStream::host_bytes() const {
  int64_t n = staging_.defined() ? staging_.nbytes() : 0;
  for (const Record& r : records_) {
    if (r.holder == plan::Where::kHost) n += r.held.nbytes();
  }
  return n;
}

}  // namespace zerod::zero
