#include "engine/models/unit.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <functional>

#include "engine/models/lm_loss.h"
#include "engine/util/check.h"

namespace zerod::models {

int64_t Unit::numel() const {
  int64_t n = 0;
  for (const auto& s : specs_) {
    int64_t k = 1;
    for (int64_t d : s.shape) k *= d;
    n += k;
  }
  return n;
}

torch::Tensor Unit::AddParam(const std::string& local_name, std::vector<int64_t> shape,
                             ParamInit init, double std_scale, int64_t zero_row) {
  return AddParamNamed(name_ + "." + local_name, std::move(shape), init, std_scale, zero_row);
}

torch::Tensor Unit::AddParamNamed(std::string full_name, std::vector<int64_t> shape, ParamInit init,
                                  double std_scale, int64_t zero_row) {
  specs_.push_back({std::move(full_name), std::move(shape), init, std_scale, zero_row});
  // A zero-element placeholder: the engine rebinds it with set_data before first use.
  params_.push_back(torch::empty({0}).requires_grad_(true));
  return params_.back();
}

void Unit::CheckBound() const {
  for (const auto* list : {&params_, &borrowed_params_}) {
    for (const torch::Tensor& p : *list) ZEROD_CHECK(p.storage().data() != nullptr);
  }
}

torch::Tensor Unit::Forward(const torch::Tensor& input, const SequenceLayout& layout) {
  CheckBound();
  return Run(input, layout);
}

torch::Tensor Unit::ForwardLoss(const torch::Tensor& input, const torch::Tensor& targets,
                                const SequenceLayout& layout) {
  CheckBound();
  return RunLoss(input, targets, layout);
}

torch::Tensor Unit::RunLoss(const torch::Tensor& input, const torch::Tensor& targets,
                            const SequenceLayout& layout) {
  return TokenCrossEntropy(Run(input, layout), targets);
}

torch::Tensor Unit::Borrow(const Unit& owner, int owner_index, size_t index) {
  borrowed_.push_back({owner_index, index});
  borrowed_params_.push_back(owner.params().at(index));
  return borrowed_params_.back();
}

namespace {

// One generator per chunk of a parameter, seeded from (seed, unit name, parameter, chunk):
// the chunks fill in parallel and the values depend on nothing else (world size, threads).
constexpr int64_t kInitChunk = int64_t{1} << 22;

uint64_t Mix(uint64_t h, uint64_t v) {  // splitmix64 step over h ^ v
  uint64_t z = h ^ (v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2));
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

torch::Tensor InitialValues(const Unit& unit, uint64_t seed, double std) {
  const uint64_t unit_seed = seed ^ std::hash<std::string>{}(unit.name());
  torch::Tensor flat = torch::empty({unit.numel()}, torch::kFloat32);
  int64_t offset = 0;
  for (size_t k = 0; k < unit.specs().size(); ++k) {
    const ParamSpec& spec = unit.specs()[k];
    int64_t n = 1;
    for (int64_t d : spec.shape) n *= d;
    torch::Tensor part = flat.narrow(0, offset, n);
    switch (spec.init) {
      case ParamInit::kNormal: {
        const int64_t chunks = (n + kInitChunk - 1) / kInitChunk;
        at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
          for (int64_t c = begin; c < end; ++c) {
            auto gen = at::make_generator<at::CPUGeneratorImpl>(Mix(Mix(unit_seed, k), c));
            part.narrow(0, c * kInitChunk, std::min(kInitChunk, n - c * kInitChunk))
                .normal_(0.0, std * spec.std_scale, gen);
          }
        });
        if (spec.zero_row >= 0) {
          const int64_t row = n / spec.shape.front();
          part.narrow(0, spec.zero_row * row, row).zero_();
        }
        break;
      }
      case ParamInit::kOnes:
        part.fill_(1.0);
        break;
      case ParamInit::kZeros:
        part.zero_();
        break;
    }
    offset += n;
  }
  return flat;
}

void BindPlain(Unit& unit, const torch::Tensor& flat, torch::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  torch::Tensor storage = flat.to(dtype).clone();
  int64_t offset = 0;
  for (size_t i = 0; i < unit.specs().size(); ++i) {
    const auto& spec = unit.specs()[i];
    int64_t n = 1;
    for (int64_t d : spec.shape) n *= d;
    unit.params()[i].set_data(storage.narrow(0, offset, n).view(spec.shape));
    offset += n;
  }
}

}  // namespace zerod::models
