#include "engine/models/rope.h"

#include <cmath>

namespace zerod::models {
namespace {

// Llama 3.1's rescaling of `inv_freq` (transformers' _compute_llama3_parameters).
torch::Tensor Llama3Scaling(const torch::Tensor& inv_freq, const RopeScaling& s) {
  const double old_context = static_cast<double>(s.original_max_position_embeddings);
  const double low_freq_wavelen = old_context / s.low_freq_factor;
  const double high_freq_wavelen = old_context / s.high_freq_factor;
  torch::Tensor wavelen = 2 * M_PI / inv_freq;
  // Long wavelengths are divided by factor, short ones kept, the middle blended.
  torch::Tensor scaled = torch::where(wavelen > low_freq_wavelen, inv_freq / s.factor, inv_freq);
  torch::Tensor smooth =
      (old_context / wavelen - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  torch::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
  torch::Tensor medium =
      (wavelen < high_freq_wavelen).logical_not() & (wavelen > low_freq_wavelen).logical_not();
  return torch::where(medium, smoothed, scaled);
}

}  // namespace

torch::Tensor RopeInverseFrequencies(const LlamaConfig& c, torch::Device device) {
  const int64_t hd = c.head_dim;
  torch::Tensor exponents =
      torch::arange(0, hd, 2, torch::TensorOptions().dtype(torch::kInt64).device(device))
          .to(torch::kFloat32) /
      static_cast<double>(hd);
  torch::Tensor inv_freq = 1.0 / torch::pow(c.rope_theta, exponents);  // (hd / 2)
  switch (c.rope_scaling.type) {
    case RopeType::kLinear:
      return inv_freq / c.rope_scaling.factor;
    case RopeType::kLlama3:
      return Llama3Scaling(inv_freq, c.rope_scaling);
    case RopeType::kDefault:
      break;
  }
  return inv_freq;
}

std::pair<torch::Tensor, torch::Tensor> RopeTables(const LlamaConfig& c, int64_t T,
                                                   torch::ScalarType dtype, torch::Device device) {
  torch::NoGradGuard no_grad;
  torch::Tensor inv_freq = RopeInverseFrequencies(c, device);
  torch::Tensor pos =
      torch::arange(T, torch::TensorOptions().dtype(torch::kFloat32).device(device));
  torch::Tensor freqs = torch::outer(pos, inv_freq);   // (T, hd / 2)
  torch::Tensor emb = torch::cat({freqs, freqs}, -1);  // (T, hd)
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

torch::Tensor RotateHalf(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

}  // namespace zerod::models
