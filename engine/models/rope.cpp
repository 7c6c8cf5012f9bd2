#include "engine/models/rope.h"

#include <algorithm>
#include <cmath>

namespace zerod::models {
namespace {

// base^(arange(0, dim, 2) / dim), float32: the unscaled wavelengths' reciprocal.
torch::Tensor PosFreqs(double base, int64_t dim, torch::Device device) {
  torch::Tensor exponents =
      torch::arange(0, dim, 2, torch::TensorOptions().dtype(torch::kInt64).device(device))
          .to(torch::kFloat32) /
      static_cast<double>(dim);
  return torch::pow(base, exponents);  // (dim / 2)
}

// Llama 3.1's rescaling of `inv_freq` (transformers' _compute_llama3_parameters).
torch::Tensor Llama3Scaling(const torch::Tensor& inv_freq, const RopeConfig& s) {
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

// YaRN (transformers' _compute_yarn_parameters): interpolated frequencies below the
// correction range, extrapolated above it, a linear ramp between.
torch::Tensor Yarn(const RopeConfig& s, int64_t dim, torch::Device device) {
  const double base = s.theta;
  const double original = static_cast<double>(s.original_max_position_embeddings);
  auto correction_dim = [&](double rotations) {
    return (static_cast<double>(dim) * std::log(original / (rotations * 2 * M_PI))) /
           (2 * std::log(base));
  };
  double low = correction_dim(s.beta_fast), high = correction_dim(s.beta_slow);
  if (s.truncate) low = std::floor(low), high = std::ceil(high);
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;  // as transformers: no singularity
  torch::Tensor pos_freqs = PosFreqs(base, dim, device);
  torch::Tensor extrapolation = 1.0 / pos_freqs;
  torch::Tensor interpolation = 1.0 / (s.factor * pos_freqs);
  torch::Tensor ramp =
      ((torch::arange(dim / 2, torch::TensorOptions().dtype(torch::kFloat32)) - low) / (high - low))
          .clamp(0, 1)
          .to(device);
  torch::Tensor extrapolation_factor = 1 - ramp;
  return interpolation * (1 - extrapolation_factor) + extrapolation * extrapolation_factor;
}

double YarnMscale(double scale, double mscale) {
  return scale <= 1 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

double LongropeFactor(const RopeConfig& s, const RopeShape& shape) {
  return s.factor > 0 ? s.factor
                      : static_cast<double>(shape.max_position_embeddings) /
                            static_cast<double>(s.original_max_position_embeddings);
}

}  // namespace

int64_t RotaryDims(const RopeConfig& rope, const RopeShape& shape) {
  return static_cast<int64_t>(static_cast<double>(shape.head_dim) * rope.partial_rotary_factor);
}

torch::Tensor RopeInverseFrequencies(const RopeConfig& s, const RopeShape& shape, int64_t T,
                                     torch::Device device) {
  const int64_t dim = RotaryDims(s, shape);
  switch (s.type) {
    case RopeType::kDefault:
      break;
    case RopeType::kLinear:
      return 1.0 / PosFreqs(s.theta, dim, device) / s.factor;
    case RopeType::kLlama3:
      return Llama3Scaling(1.0 / PosFreqs(s.theta, dim, device), s);
    case RopeType::kDynamic: {
      // Past max_position_embeddings the base grows with the length; below it, the default.
      const double max_pos = static_cast<double>(shape.max_position_embeddings);
      const double len = std::max(static_cast<double>(T), max_pos);
      const double d = static_cast<double>(dim);
      const double base =
          s.theta * std::pow((s.factor * len / max_pos) - (s.factor - 1), d / (d - 2));
      return 1.0 / PosFreqs(base, dim, device);
    }
    case RopeType::kYarn:
      return Yarn(s, dim, device);
    case RopeType::kLongrope: {
      const std::vector<double>& ext =
          T > s.original_max_position_embeddings ? s.long_factor : s.short_factor;
      torch::Tensor factors =
          torch::tensor(std::vector<float>(ext.begin(), ext.end()), torch::kFloat32).to(device);
      return 1.0 / (factors * PosFreqs(s.theta, dim, device));
    }
  }
  return 1.0 / PosFreqs(s.theta, dim, device);
}

double RopeAttentionScaling(const RopeConfig& s, const RopeShape& shape) {
  if (s.type == RopeType::kYarn) {
    if (s.attention_factor > 0) return s.attention_factor;
    if (s.mscale != 0 && s.mscale_all_dim != 0)
      return YarnMscale(s.factor, s.mscale) / YarnMscale(s.factor, s.mscale_all_dim);
    return YarnMscale(s.factor, 1.0);
  }
  if (s.type == RopeType::kLongrope) {
    if (s.attention_factor > 0) return s.attention_factor;
    const double factor = LongropeFactor(s, shape);
    if (factor <= 1.0) return 1.0;
    return std::sqrt(1 + std::log(factor) /
                             std::log(static_cast<double>(s.original_max_position_embeddings)));
  }
  return 1.0;
}

std::pair<torch::Tensor, torch::Tensor> RopeTables(const RopeConfig& rope, const RopeShape& shape,
                                                   int64_t T, torch::ScalarType dtype,
                                                   torch::Device device) {
  torch::NoGradGuard no_grad;
  torch::Tensor inv_freq = RopeInverseFrequencies(rope, shape, T, device);
  torch::Tensor pos =
      torch::arange(T, torch::TensorOptions().dtype(torch::kFloat32).device(device));
  torch::Tensor freqs = torch::outer(pos, inv_freq);   // (T, rotary / 2)
  torch::Tensor emb = torch::cat({freqs, freqs}, -1);  // (T, rotary)
  const double scaling = RopeAttentionScaling(rope, shape);
  torch::Tensor cos = emb.cos(), sin = emb.sin();
  if (scaling != 1.0) cos = cos * scaling, sin = sin * scaling;
  return {cos.to(dtype), sin.to(dtype)};
}

torch::Tensor ApplyRope(const torch::Tensor& x, const torch::Tensor& cos,
                        const torch::Tensor& sin) {
  const int64_t rotary = cos.size(-1);
  if (rotary == x.size(-1)) return x * cos + RotateHalf(x) * sin;
  torch::Tensor rot = x.narrow(-1, 0, rotary);
  return torch::cat({rot * cos + RotateHalf(rot) * sin, x.narrow(-1, rotary, x.size(-1) - rotary)},
                    -1);
}

torch::Tensor PositionRows(const torch::Tensor& table, const torch::Tensor& positions) {
  return table.index_select(0, positions.reshape({-1}))
      .view({positions.size(0), 1, positions.size(1), table.size(-1)});
}

torch::Tensor RotateHalf(const torch::Tensor& x) {
  const int64_t half = x.size(-1) / 2;
  return torch::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
}

}  // namespace zerod::models
