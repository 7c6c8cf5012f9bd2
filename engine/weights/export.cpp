#include "engine/weights/export.h"

#include <torch/torch.h>

#include "engine/models/torch_dtype.h"
#include "engine/util/status_macros.h"

namespace zerod::weights {

std::vector<models::TensorSpec> ExportPlan(const zero::ZeroEngine& engine) {
  std::vector<models::TensorSpec> plan;
  for (int i = 0; i < engine.num_units(); ++i) {
    for (const auto& spec : engine.unit(i).specs())
      plan.push_back({spec.name, models::ToDType(engine.dtype()), spec.shape});
  }
  return plan;
}

absl::Status Export(zero::ZeroEngine& engine, checkpoint::HfExportWriter* writer) {
  RETURN_IF_ERROR(engine.FinishUpdates());
  absl::Status written;
  for (int i = 0; i < engine.num_units(); ++i) {
    zero::ParamGroup& g = engine.group(i);
    const models::Unit& unit = engine.unit(i);
    // A shard a step behind its master (a delayed update) is exported as the master
    // rounded, the trained state; the next step still reads the shard it had.
    RETURN_IF_ERROR(engine.WithCurrentShard(i, [&]() -> absl::Status {
      RETURN_IF_ERROR(g.StartFetch());
      RETURN_IF_ERROR(g.WaitFetch());
      if (writer != nullptr && written.ok()) {
        torch::NoGradGuard no_grad;
        for (size_t k = 0; k < unit.specs().size() && written.ok(); ++k) {
          torch::Tensor host = unit.params()[k].detach().to(torch::kCPU).contiguous();
          written = writer->Append(unit.specs()[k].name, host.data_ptr());
        }
      }
      return g.Release();
    }));
  }
  if (writer != nullptr && written.ok()) written = writer->Finish();
  return comm::AgreeOnStatus(engine.comm(), written);
}

}  // namespace zerod::weights
