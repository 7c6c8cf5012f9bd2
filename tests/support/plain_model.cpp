#include "tests/support/plain_model.h"

#include "engine/models/registry.h"

namespace zerod::testing {

PlainModel BuildPlainModel(const models::ModelConfig& mc, uint64_t seed,
                           const offload::AdamWHyper& adamw, const torch::Device& device) {
  PlainModel m;
  m.units = models::BuildUnits(mc);
  for (auto& unit : m.units) {
    models::BindPlain(*unit, models::InitialValues(*unit, seed, mc.initializer_range()).to(device),
                      torch::kFloat32);
    for (const auto& p : unit->params()) m.params.push_back(p);
  }
  m.optimizer =
      std::make_unique<torch::optim::AdamW>(m.params, torch::optim::AdamWOptions(adamw.lr)
                                                          .betas({adamw.beta1, adamw.beta2})
                                                          .eps(adamw.eps)
                                                          .weight_decay(adamw.weight_decay));
  return m;
}

}  // namespace zerod::testing
