#include "tests/support/plain_eval.h"

#include <torch/torch.h>

#include "engine/data/token_dataset.h"
#include "engine/models/decoder.h"
#include "engine/models/hf_config.h"

namespace zerod::testing {

double PlainEvalLoss(const EvalSpec& spec, int64_t num_windows, int64_t forward_windows) {
  const models::DecoderConfig mc = models::LoadDecoderConfig(spec.model_dir).value();
  auto dataset =
      data::TokenDataset::Open(spec.data_path, data::TokenDType::kUInt16, mc.vocab_size).value();
  auto units = models::BuildDecoderUnits(mc);
  for (auto& unit : units) {
    models::BindPlain(*unit, models::InitialValues(*unit, spec.seed, mc.initializer_range),
                      torch::kFloat32);
  }
  torch::NoGradGuard no_grad;
  const int64_t L = spec.seq_len;
  double nats = 0.0;
  for (int64_t first = 0; first < num_windows; first += forward_windows) {
    const int64_t n = std::min(forward_windows, num_windows - first);
    std::vector<int64_t> tokens;
    for (int64_t t = first * (L + 1); t < (first + n) * (L + 1); ++t)
      tokens.push_back((*dataset)[t]);
    torch::Tensor batch = torch::from_blob(tokens.data(), {n, L + 1}, torch::kInt64);
    torch::Tensor h = batch.narrow(1, 0, L);
    for (auto& unit : units) h = unit->Forward(h);
    torch::Tensor per_token = torch::nn::functional::cross_entropy(
        h.reshape({n * L, -1}), batch.narrow(1, 1, L).reshape({-1}),
        torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    nats += per_token.to(torch::kFloat64).sum().item<double>();
  }
  return nats / static_cast<double>(num_windows * L);
}

}  // namespace zerod::testing
