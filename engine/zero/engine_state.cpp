// ZeroEngine's part of a checkpoint: this rank's float32 master shards and both Adam
// moments, one safetensors file per rank. The compute-dtype shards are not stored: they
// are the master's rounding, remade on load exactly as a step makes them.
#include <torch/torch.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/checkpoint/sharded_state.h"
#include "engine/models/safetensors.h"
#include "engine/util/status_macros.h"
#include "engine/zero/zero_engine.h"

namespace zerod::zero {
namespace {

std::string StateName(size_t group, const char* what) {
  return checkpoint::ShardedState::TensorName(group, what);
}

}  // namespace

absl::Status ZeroEngine::SaveState(const std::string& path) {
  if (!optimizer_)
    return absl::FailedPreconditionError("SaveState on an engine built for forward only");
  RETURN_IF_ERROR(FinishUpdates());
  // State on the GPU is staged through one host buffer, a tensor at a time.
  torch::Tensor staged;
  std::vector<models::TensorToWrite> tensors;
  for (size_t i = 0; i < slots_.size(); ++i) {
    const int g = static_cast<int>(i);
    for (const auto& [what, t] : {std::pair{"master", &optimizer_->master(g)},
                                  std::pair{"exp_avg", &optimizer_->exp_avg(g)},
                                  std::pair{"exp_avg_sq", &optimizer_->exp_avg_sq(g)}}) {
      models::TensorToWrite w{StateName(i, what), DType::kFloat32, {t->numel()}, nullptr, {}};
      if (t->is_cpu()) {
        w.bytes = t->data_ptr();
      } else {
        w.stage = [t, &staged]() -> const void* {
          staged = t->to(torch::kCPU);
          return staged.data_ptr();
        };
      }
      tensors.push_back(std::move(w));
    }
  }
  return models::WriteSafetensors(path, tensors,
                                  {{"format", "zerod-rank-state-1"},
                                   {"adam_step", std::to_string(adam_step_)},
                                   {"groups", std::to_string(slots_.size())}},
                                  /*checksum=*/true);
}

absl::Status ZeroEngine::LoadState(const std::string& path) {
  return LoadStateFrom({path}, /*verify=*/true);
}

// Any world size: this rank's slice of each group, re-cut from the old ranks' shards
// (Note [resharding] in engine/checkpoint/sharded_state.h).
absl::Status ZeroEngine::LoadStateFrom(const std::vector<std::string>& paths, bool verify) {
  if (!optimizer_)
    return absl::FailedPreconditionError("LoadState on an engine built for forward only");
  RETURN_IF_ERROR(FinishUpdates());
  ASSIGN_OR_RETURN(const checkpoint::ShardedState state,
                   checkpoint::ShardedState::Open(paths, slots_.size(), verify));
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < slots_.size(); ++i) {
    const int g = static_cast<int>(i);
    const plan::Partition& mine = slots_[i].group->partition();
    const int64_t begin = mine.ShardBegin(comm_->rank());
    const int64_t end = std::min(begin + mine.shard_numel, mine.numel);  // real elements
    // The padding past `end` stays zero; Read overwrites the real elements each time.
    torch::Tensor values = torch::zeros({mine.shard_numel}, torch::kFloat32);  // host
    for (const char* what : {"master", "exp_avg", "exp_avg_sq"}) {
      if (begin < end) {
        RETURN_IF_ERROR(state.Read(i, what, mine.numel, begin, end, values.data_ptr<float>()));
      }
      if (std::string(what) == "master") {
        SetShardValues(i, values);
      } else {
        (std::string(what) == "exp_avg" ? optimizer_->exp_avg(g) : optimizer_->exp_avg_sq(g))
            .copy_(values);
      }
    }
  }
  adam_step_ = state.adam_step();
  return absl::OkStatus();
}

}  // namespace zerod::zero
