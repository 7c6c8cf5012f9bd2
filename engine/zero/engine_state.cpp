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
  if (!optimizer_)
    return absl::FailedPreconditionError("LoadState on an engine built for forward only");
  RETURN_IF_ERROR(FinishUpdates());
  ASSIGN_OR_RETURN(auto file, models::SafetensorsFile::Open(path));
  RETURN_IF_ERROR(file->VerifyChecksum());
  const auto& meta = file->metadata();
  auto groups = meta.find("groups");
  auto step = meta.find("adam_step");
  if (groups == meta.end() || step == meta.end() ||
      groups->second != std::to_string(slots_.size())) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, " does not hold this model's optimizer state (", slots_.size(),
        " units expected): resume with the model and config the checkpoint was written with"));
  }
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < slots_.size(); ++i) {
    const int g = static_cast<int>(i);
    const int64_t numel = optimizer_->master(g).numel();
    for (const char* what : {"master", "exp_avg", "exp_avg_sq"}) {
      const models::TensorInfo* info = file->Find(StateName(i, what));
      if (info == nullptr || info->dtype != DType::kFloat32 || info->numel() != numel) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": ", StateName(i, what), " is missing or not float32[", numel,
                         "] (written for another model or world size?)"));
      }
      torch::Tensor values = torch::from_blob(const_cast<uint8_t*>(file->Data(*info)),
                                              {info->numel()}, torch::kFloat32);
      if (std::string(what) == "master") {
        SetShardValues(i, values);
      } else {
        (std::string(what) == "exp_avg" ? optimizer_->exp_avg(g) : optimizer_->exp_avg_sq(g))
            .copy_(values);
      }
    }
  }
  adam_step_ = std::stoll(step->second);
  return absl::OkStatus();
}

}  // namespace zerod::zero
