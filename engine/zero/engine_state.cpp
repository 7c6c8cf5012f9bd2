// ZeroEngine's part of a checkpoint: this rank's float32 master shards and both Adam
// moments, one safetensors file per rank. The compute-dtype shards are not stored: they
// are the master's rounding, remade on load exactly as a step makes them.
#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/models/safetensors.h"
#include "engine/util/status_macros.h"
#include "engine/zero/zero_engine.h"

namespace zerod::zero {
namespace {

std::string StateName(size_t group, const char* what) {
  return absl::StrCat("group.", group, ".", what);
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

// Note [resharding]: a checkpoint written by N ranks holds, per group, N shards of
// shard_numel(N) elements, of which rank k's first ShardValidNumel(k) are real and the
// rest padding. Laid end to end without the padding they are the group's flat values; this
// rank's shard at M ranks is the slice [rank * shard_numel(M), ...) of them, gathered from
// whichever old shards it overlaps. Each rank reads only those slices (the files are
// mapped), and N == M with the same rank is the old one-file case.
absl::Status ZeroEngine::LoadStateFrom(const std::vector<std::string>& paths, bool verify) {
  if (!optimizer_)
    return absl::FailedPreconditionError("LoadState on an engine built for forward only");
  RETURN_IF_ERROR(FinishUpdates());
  const int old_world = static_cast<int>(paths.size());
  std::vector<std::unique_ptr<models::SafetensorsFile>> files;
  std::string adam_step;
  for (const std::string& path : paths) {
    ASSIGN_OR_RETURN(auto file, models::SafetensorsFile::Open(path));
    if (verify) RETURN_IF_ERROR(file->VerifyChecksum());
    const auto& meta = file->metadata();
    auto groups = meta.find("groups");
    auto step = meta.find("adam_step");
    if (groups == meta.end() || step == meta.end() ||
        groups->second != std::to_string(slots_.size())) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, " does not hold this model's optimizer state (", slots_.size(),
          " units expected): resume with the model and config the checkpoint was written with"));
    }
    adam_step = step->second;
    files.push_back(std::move(file));
  }
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < slots_.size(); ++i) {
    const int g = static_cast<int>(i);
    const Partition& mine = slots_[i].group->partition();
    ASSIGN_OR_RETURN(const Partition old, MakePartition(mine.numel, old_world, /*shard_align=*/8));
    const int64_t begin = mine.ShardBegin(comm_->rank());
    const int64_t end = std::min(begin + mine.shard_numel, mine.numel);        // real elements
    torch::Tensor values = torch::zeros({mine.shard_numel}, torch::kFloat32);  // host
    for (const char* what : {"master", "exp_avg", "exp_avg_sq"}) {
      values.zero_();
      for (int k = 0; k < old_world; ++k) {
        const models::TensorInfo* info = files[k]->Find(StateName(i, what));
        if (info == nullptr || info->dtype != DType::kFloat32 || info->numel() != old.shard_numel) {
          return absl::InvalidArgumentError(
              absl::StrCat(paths[k], ": ", StateName(i, what), " is missing or not float32[",
                           old.shard_numel, "] (written for another model?)"));
        }
        // Old rank k's real elements, in flat indices, and the part of them this rank owns.
        const int64_t k_begin = old.ShardBegin(k);
        const int64_t lo = std::max(begin, k_begin);
        const int64_t hi = std::min(end, k_begin + old.ShardValidNumel(k));
        if (lo >= hi) continue;
        const float* src = reinterpret_cast<const float*>(files[k]->Data(*info)) + (lo - k_begin);
        std::memcpy(values.data_ptr<float>() + (lo - begin), src,
                    static_cast<size_t>(hi - lo) * sizeof(float));
      }
      if (std::string(what) == "master") {
        SetShardValues(i, values);
      } else {
        (std::string(what) == "exp_avg" ? optimizer_->exp_avg(g) : optimizer_->exp_avg_sq(g))
            .copy_(values);
      }
    }
  }
  adam_step_ = std::stoll(adam_step);
  return absl::OkStatus();
}

}  // namespace zerod::zero
