#include "engine/checkpoint/hf_from_checkpoint.h"

#include <torch/torch.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/checkpoint/checkpoint_dir.h"
#include "engine/checkpoint/hf_export.h"
#include "engine/checkpoint/sharded_state.h"
#include "engine/models/hf_config.h"
#include "engine/models/registry.h"
#include "engine/models/torch_dtype.h"
#include "engine/plan/partition.h"
#include "engine/util/status_macros.h"

namespace zerod::checkpoint {
namespace {

absl::StatusOr<DType> CheckpointDType(const CheckpointMeta& meta, const std::string& dir) {
  for (DType d : {DType::kBFloat16, DType::kFloat16, DType::kFloat32}) {
    if (meta.dtype == DTypeName(d)) return d;
  }
  return absl::InvalidArgumentError(absl::StrCat(dir, "/zerod_checkpoint.json: dtype \"",
                                                 meta.dtype,
                                                 "\" is not bfloat16, float16 or float32"));
}

}  // namespace

absl::StatusOr<HfExportSummary> ExportCheckpointToHf(const std::string& checkpoint_dir,
                                                     const std::string& output_dir) {
  ASSIGN_OR_RETURN(const CheckpointMeta meta, ReadMeta(checkpoint_dir));
  ASSIGN_OR_RETURN(const DType dtype, CheckpointDType(meta, checkpoint_dir));
  ASSIGN_OR_RETURN(const models::ModelConfig model, models::LoadModelConfig(checkpoint_dir));
  const auto units = models::BuildUnits(model);  // names and shapes; no storage
  int64_t parameters = 0;
  std::vector<models::TensorSpec> specs;
  for (const auto& unit : units) {
    parameters += unit->numel();
    for (const models::ParamSpec& p : unit->specs()) specs.push_back({p.name, dtype, p.shape});
  }
  if (parameters != meta.num_parameters) {
    return absl::InvalidArgumentError(
        absl::StrCat(checkpoint_dir, ": config.json describes ", parameters,
                     " parameters but the checkpoint holds ", meta.num_parameters));
  }
  std::vector<std::string> paths;
  for (int k = 0; k < meta.world_size; ++k)
    paths.push_back(RankStateFile(checkpoint_dir, k, meta.world_size));
  ASSIGN_OR_RETURN(const ShardedState state,
                   ShardedState::Open(paths, units.size(), /*verify=*/true));

  HfExportWriter writer(output_dir, specs);
  RETURN_IF_ERROR(writer.Begin(ExportedConfigJson(checkpoint_dir, dtype)));
  RETURN_IF_ERROR(writer.AddCompanionFiles(checkpoint_dir));
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < units.size(); ++i) {
    const models::Unit& unit = *units[i];
    std::vector<std::pair<std::string, std::vector<int64_t>>> shapes;
    for (const models::ParamSpec& p : unit.specs()) shapes.emplace_back(p.name, p.shape);
    const plan::FlatLayout layout = plan::MakeFlatLayout(shapes);
    torch::Tensor master = torch::empty({layout.numel}, torch::kFloat32);
    RETURN_IF_ERROR(
        state.Read(i, "master", layout.numel, 0, layout.numel, master.data_ptr<float>()));
    // The engine's 16-bit weights are its master rounded by torch (round to nearest even):
    // the same conversion here gives the same bits.
    const torch::Tensor rounded = master.to(models::ToTorch(dtype));
    for (const plan::FlatEntry& e : layout.entries) {
      RETURN_IF_ERROR(writer.Append(e.name, rounded.narrow(0, e.offset, e.numel).data_ptr()));
    }
  }
  RETURN_IF_ERROR(writer.Finish());
  return HfExportSummary{parameters, meta.step, meta.world_size, DTypeName(dtype)};
}

}  // namespace zerod::checkpoint
