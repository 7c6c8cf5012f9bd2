#include "engine/zero/param_group.h"

#include "absl/strings/str_cat.h"
#include "engine/models/adjacent.h"
#include "engine/models/torch_dtype.h"
#include "engine/util/status_macros.h"
#include "engine/zero/status_exception.h"

namespace zerod::zero {

namespace {

// A world of one has nothing to reduce: the work is done when it is made.
class DoneWork final : public comm::Work {
 public:
  absl::Status Wait() override { return absl::OkStatus(); }
};

// Writes the runs into `flat` and zeros every element no run covers (the padding, the
// gaps between entries, unused parameters), so `flat` need not be zeroed first.
void FlattenInto(torch::Tensor& flat, const std::vector<GradRun>& runs) {
  int64_t next = 0;  // the first element no run has written
  for (const GradRun& run : runs) {
    if (run.offset > next) flat.narrow(0, next, run.offset - next).zero_();
    flat.narrow(0, run.offset, run.numel).copy_(run.values);
    next = run.offset + run.numel;
  }
  if (next < flat.numel()) flat.narrow(0, next, flat.numel() - next).zero_();
}

}  // namespace

std::vector<GradRun> GradRuns(const plan::FlatLayout& layout,
                              const std::vector<torch::Tensor>& grads) {
  std::vector<GradRun> runs;
  for (size_t i = 0; i < layout.entries.size();) {
    if (!grads[i].defined()) {
      ++i;
      continue;
    }
    size_t j = i + 1;
    int64_t numel = layout.entries[i].numel;
    while (j < layout.entries.size() && models::FollowsInStorage(grads[j], grads[j - 1]) &&
           layout.entries[j].offset == layout.entries[j - 1].offset + layout.entries[j - 1].numel) {
      numel += layout.entries[j++].numel;
    }
    const torch::Tensor& first = grads[i];
    runs.push_back({layout.entries[i].offset, numel,
                    j == i + 1 ? first.reshape({-1})
                               : first.as_strided({numel}, {1}, first.storage_offset())});
    i = j;
  }
  return runs;
}

absl::StatusOr<torch::Tensor> PoolTensor(offload::PinnedPool* pool, int64_t numel,
                                         torch::ScalarType dtype) {
  ASSIGN_OR_RETURN(void* ptr,
                   pool->Allocate(static_cast<size_t>(numel) * torch::elementSize(dtype)));
  return torch::from_blob(
      ptr, {numel}, [pool](void* p) { pool->Free(p); }, torch::TensorOptions().dtype(dtype));
}

ParamGroup::ParamGroup(models::Unit* unit, comm::Communicator* comm, DeviceStreams* streams,
                       offload::PinnedPool* host_pool, torch::ScalarType dtype, bool derived)
    : unit_(unit), comm_(comm), streams_(streams), dtype_(dtype), derived_(derived) {
  std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
  for (const auto& spec : unit->specs()) shapes.emplace_back(spec.name, spec.shape);
  layout_ = plan::MakeFlatLayout(shapes);
  // Shards are kept 16-byte aligned for every dtype (8 elements of 16 bits).
  partition_ = plan::MakePartition(layout_.numel, comm->world_size(), plan::kShardAlign).value();
  const auto device = streams->device();
  if (derived) {
    // No shard: the master is its source (Note [derived shard]).
  } else if (host_pool != nullptr) {
    auto shard = PoolTensor(host_pool, partition_.shard_numel, dtype);
    ThrowIfError(shard.status());  // ZeroEngine::Build's CatchToStatus takes it back
    shard_ = *shard;
    shard_.zero_();
  } else {
    shard_ =
        torch::zeros({partition_.shard_numel}, torch::TensorOptions().dtype(dtype).device(device));
  }
  gathered_ =
      torch::empty({partition_.padded_numel}, torch::TensorOptions().dtype(dtype).device(device));

  // Bind each parameter once to its view of the gathered buffer (Note [storage swap]).
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < layout_.entries.size(); ++i) {
    const plan::FlatEntry& e = layout_.entries[i];
    unit->params()[i].set_data(gathered_.narrow(0, e.offset, e.numel).view(e.shape));
  }
  FreeGathered();
}

ParamGroup::~ParamGroup() {
  if (state_ == GroupState::kGathering) (void)WaitFetch();
}

void ParamGroup::AllocateGathered() {
  c10::StorageImpl* storage = gathered_.storage().unsafeGetStorageImpl();
  const size_t bytes = static_cast<size_t>(partition_.padded_numel) * gathered_.element_size();
  storage->set_data_ptr_noswap(storage->allocator()->allocate(bytes));
  storage->set_nbytes(bytes);
}

void ParamGroup::FreeGathered() {
  c10::StorageImpl* storage = gathered_.storage().unsafeGetStorageImpl();
  storage->set_data_ptr_noswap(at::DataPtr(nullptr, gathered_.device()));
  storage->set_nbytes(0);
}

int64_t ParamGroup::gathered_bytes() const {
  return state_ == GroupState::kSharded ? 0 : partition_.padded_numel * gathered_.element_size();
}

absl::Status ParamGroup::StartFetch() {
  if (state_ != GroupState::kSharded) return absl::OkStatus();
  if (derived_ && !master_.defined()) {
    return absl::FailedPreconditionError(
        absl::StrCat("fetch of ", unit_->name(), ", whose shard derives from a master not bound"));
  }
  AllocateGathered();
  const size_t count = static_cast<size_t>(partition_.shard_numel);
  absl::StatusOr<std::unique_ptr<comm::Work>> work;
  if (streams_->cuda()) {
    // Note [fetch ordering].
    auto scope = streams_->Enter(SideStream::kCopyIn);
    // A host shard, or a derived one (Note [derived shard]: the master's rounding), goes
    // into this rank's slot first; a device shard is sent as it is.
    const torch::Tensor& source = derived_ ? master_ : shard_;
    const void* send = source.data_ptr();
    if (derived_ || shard_.is_cpu()) {
      torch::Tensor slot =
          gathered_.narrow(0, partition_.ShardBegin(comm_->rank()), partition_.shard_numel);
      if (derived_ && master_.is_cpu()) {
        // A host master goes up as it is (pinned: asynchronous) and is rounded on the
        // GPU. The float32 copy is freed at once; the copy-in stream's allocator keeps
        // its block for the next fetch (the plan counts one).
        slot.copy_(master_.to(slot.device(), /*non_blocking=*/true));
      } else {
        slot.copy_(source, /*non_blocking=*/true);
      }
      send = slot.data_ptr();  // NCCL's in-place all-gather
    }
    work = comm_->AllGatherAsync(send, gathered_.data_ptr(), count, models::ToDType(dtype_));
  } else {
    // MPI's send buffer may not lie in its receive buffer: a derived shard is rounded
    // into a buffer of its own, kept until the gather is done.
    if (derived_) send_ = master_.to(dtype_);
    work = comm_->AllGatherAsync(derived_ ? send_.data_ptr() : shard_.data_ptr(),
                                 gathered_.data_ptr(), count, models::ToDType(dtype_));
  }
  if (!work.ok()) {
    FreeGathered();
    return work.status();
  }
  pending_ = std::move(work).value();
  state_ = GroupState::kGathering;
  return absl::OkStatus();
}

absl::Status ParamGroup::WaitFetch() {
  if (state_ == GroupState::kGathered) return absl::OkStatus();
  if (state_ == GroupState::kSharded) {
    return absl::FailedPreconditionError(absl::StrCat(
        "WaitFetch on ", unit_->name(), " with no fetch in flight; call StartFetch first"));
  }
  absl::Status s = pending_->Wait();
  pending_.reset();
  send_ = torch::Tensor();
  if (!s.ok()) {
    FreeGathered();
    state_ = GroupState::kSharded;
    return s;
  }
  state_ = GroupState::kGathered;
  return absl::OkStatus();
}

absl::Status ParamGroup::Release() {
  if (state_ == GroupState::kSharded) return absl::OkStatus();
  if (state_ == GroupState::kGathering) {
    return absl::FailedPreconditionError(absl::StrCat(
        "Release of ", unit_->name(), " while its all-gather is in flight; WaitFetch first"));
  }
  FreeGathered();
  state_ = GroupState::kSharded;
  return absl::OkStatus();
}

torch::ScalarType ParamGroup::reduce_dtype() const {
  return comm_->SupportsReduce(models::ToDType(dtype_)) ? dtype_ : torch::kFloat32;
}

absl::StatusOr<ReducedGrad> ParamGroup::StartReduceScatter(const std::vector<torch::Tensor>& grads,
                                                           const torch::Tensor& out_shard) {
  torch::NoGradGuard no_grad;
  const torch::ScalarType reduce_dtype = this->reduce_dtype();
  const auto device = streams_->device();
  const bool direct = out_shard.defined() && out_shard.scalar_type() == reduce_dtype &&
                      out_shard.device() == device && out_shard.numel() == partition_.shard_numel;
  ReducedGrad out;
  if (direct && comm_->world_size() == 1) {
    // Alone, the reduce-scatter would copy the whole flat buffer into the shard: flatten
    // into the shard itself instead.
    out.shard = out_shard;
    FlattenInto(out.shard, GradRuns(layout_, grads));
    out.work = std::make_unique<DoneWork>();
    return out;
  }
  torch::Tensor flat = torch::empty({partition_.padded_numel},
                                    torch::TensorOptions().dtype(reduce_dtype).device(device));
  FlattenInto(flat, GradRuns(layout_, grads));
  out.shard = direct ? out_shard : torch::empty({partition_.shard_numel}, flat.options());
  ASSIGN_OR_RETURN(out.work,
                   comm_->ReduceScatterAsync(flat.data_ptr(), out.shard.data_ptr(),
                                             static_cast<size_t>(partition_.shard_numel),
                                             models::ToDType(reduce_dtype), comm::ReduceOp::kSum));
  out.flat = std::move(flat);
  return out;
}

}  // namespace zerod::zero
