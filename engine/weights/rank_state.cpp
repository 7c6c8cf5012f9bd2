#include "engine/weights/rank_state.h"

#include <torch/torch.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "engine/checkpoint/sharded_state.h"
#include "engine/models/safetensors.h"
#include "engine/util/status_macros.h"

namespace zerod::weights {
namespace {

constexpr const char* kStateTensors[] = {"master", "exp_avg", "exp_avg_sq"};

torch::Tensor& StateTensor(zero::ZeroEngine& engine, int g, const std::string& what) {
  if (what == "master") return engine.master(g);
  return what == "exp_avg" ? engine.exp_avg(g) : engine.exp_avg_sq(g);
}

}  // namespace

absl::Status SaveState(zero::ZeroEngine& engine, const std::string& path) {
  if (!engine.has_optimizer_state())
    return absl::FailedPreconditionError("SaveState on an engine built for forward only");
  RETURN_IF_ERROR(engine.FinishUpdates());
  // State on the GPU is staged through one host buffer, a tensor at a time.
  torch::Tensor staged;
  std::vector<models::TensorToWrite> tensors;
  for (int g = 0; g < engine.num_units(); ++g) {
    for (const char* what : kStateTensors) {
      torch::Tensor* t = &StateTensor(engine, g, what);
      models::TensorToWrite w{checkpoint::ShardedState::TensorName(g, what),
                              DType::kFloat32,
                              {t->numel()},
                              nullptr,
                              {}};
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
                                   {"adam_step", std::to_string(engine.adam_step())},
                                   {"groups", std::to_string(engine.num_units())}},
                                  /*checksum=*/true);
}

absl::Status LoadState(zero::ZeroEngine& engine, const std::string& path) {
  return LoadStateFrom(engine, {path}, /*verify=*/true);
}

// Any world size: this rank's slice of each group, re-cut from the old ranks' shards
// (Note [resharding] in engine/checkpoint/sharded_state.h).
absl::Status LoadStateFrom(zero::ZeroEngine& engine, const std::vector<std::string>& paths,
                           bool verify) {
  if (!engine.has_optimizer_state())
    return absl::FailedPreconditionError("LoadState on an engine built for forward only");
  RETURN_IF_ERROR(engine.FinishUpdates());
  const size_t groups = static_cast<size_t>(engine.num_units());
  ASSIGN_OR_RETURN(const checkpoint::ShardedState state,
                   checkpoint::ShardedState::Open(paths, groups, verify));
  torch::NoGradGuard no_grad;
  const int rank = engine.comm().rank();
  for (int g = 0; g < engine.num_units(); ++g) {
    const plan::Partition& mine = engine.group(g).partition();
    const int64_t begin = mine.ShardBegin(rank);
    const int64_t end = std::min(begin + mine.shard_numel, mine.numel);  // real elements
    // The padding past `end` stays zero; Read overwrites the real elements each time.
    torch::Tensor values = torch::zeros({mine.shard_numel}, torch::kFloat32);  // host
    for (const char* what : kStateTensors) {
      if (begin < end) {
        RETURN_IF_ERROR(state.Read(g, what, mine.numel, begin, end, values.data_ptr<float>()));
      }
      if (std::string(what) == "master") {
        engine.SetShardValues(g, values);
      } else {
        StateTensor(engine, g, what).copy_(values);
      }
    }
  }
  engine.set_adam_step(state.adam_step());
  return absl::OkStatus();
}

}  // namespace zerod::weights
