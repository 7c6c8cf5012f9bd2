// ZeroEngine's part of a checkpoint: this rank's float32 master shards and both Adam
// moments, one safetensors file per rank. The compute-dtype shards are not stored: they
// are the master's rounding, remade on load exactly as a step makes them.
#include <torch/torch.h>

#include <string>

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

absl::Status ZeroEngine::SaveState(const std::string& path) const {
  std::vector<models::TensorToWrite> tensors;
  for (size_t i = 0; i < state_.size(); ++i) {
    const ShardState& st = state_[i];
    for (const auto& [what, t] :
         {std::pair{"master", &st.master}, std::pair{"exp_avg", &st.exp_avg},
          std::pair{"exp_avg_sq", &st.exp_avg_sq}}) {
      tensors.push_back({StateName(i, what), DType::kFloat32, {t->numel()}, t->data_ptr()});
    }
  }
  return models::WriteSafetensors(path, tensors,
                                  {{"format", "zerod-rank-state-1"},
                                   {"adam_step", std::to_string(adam_step_)},
                                   {"groups", std::to_string(state_.size())}});
}

absl::Status ZeroEngine::LoadState(const std::string& path) {
  ASSIGN_OR_RETURN(auto file, models::SafetensorsFile::Open(path));
  const auto& meta = file->metadata();
  auto groups = meta.find("groups");
  auto step = meta.find("adam_step");
  if (groups == meta.end() || step == meta.end() ||
      groups->second != std::to_string(state_.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " does not hold this model's optimizer state (", state_.size(),
        " units expected): resume with the model and config the checkpoint was written with"));
  }
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < state_.size(); ++i) {
    ShardState& st = state_[i];
    for (const char* what : {"master", "exp_avg", "exp_avg_sq"}) {
      const models::TensorInfo* info = file->Find(StateName(i, what));
      if (info == nullptr || info->dtype != DType::kFloat32 || info->numel() != st.master.numel()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": ", StateName(i, what), " is missing or not float32[",
                         st.master.numel(), "] (written for another model or world size?)"));
      }
      torch::Tensor values = torch::from_blob(const_cast<uint8_t*>(file->Data(*info)),
                                              {info->numel()}, torch::kFloat32);
      if (std::string(what) == "master") {
        SetShardValues(i, values);
      } else {
        (std::string(what) == "exp_avg" ? st.exp_avg : st.exp_avg_sq).copy_(values);
      }
    }
  }
  adam_step_ = std::stoll(step->second);
  return absl::OkStatus();
}

}  // namespace zerod::zero
