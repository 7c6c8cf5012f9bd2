// Prints zerod's logits for one sequence of token ids, as JSON: the probe that compares
// zerod's models with transformers' on the same weights (tests/tools/compare_hf.py).
//   zerod_logits MODEL_DIR ID [ID ...]
// Loads MODEL_DIR's safetensors (or initialises from seed 1234 when it has none) into a
// world-size-1 engine in float32 on the CPU.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/comm/mpi_communicator.h"
#include "engine/models/checkpoint_reader.h"
#include "engine/models/registry.h"
#include "engine/zero/zero_engine.h"
#include "engine/weights/model_weights.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: zerod_logits MODEL_DIR ID [ID ...]\n");
    return 2;
  }
  auto runtime = zerod::comm::MpiRuntime::Init(&argc, &argv);
  if (!runtime.ok()) return 1;
  int rc = 1;
  {
    auto comm = zerod::comm::MpiCommunicator::CreateWorld().value();
    auto config = zerod::models::LoadModelConfig(argv[1]);
    if (!config.ok()) {
      std::fprintf(stderr, "%s\n", std::string(config.status().message()).c_str());
      return 1;
    }
    auto engine =
        zerod::zero::ZeroEngine::Create(zerod::models::BuildUnits(*config), comm.get(), {}).value();
    if (zerod::models::CheckpointReader::HasWeights(argv[1])) {
      auto reader = zerod::models::CheckpointReader::Open(argv[1]);
      absl::Status s = reader.ok() ? zerod::weights::LoadWeights(*engine, **reader) : reader.status();
      if (!s.ok()) {
        std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
        return 1;
      }
    } else {
      zerod::weights::InitWeights(*engine, 1234, config->initializer_range());
    }
    std::vector<int64_t> ids;
    for (int i = 2; i < argc; ++i) ids.push_back(std::atoll(argv[i]));
    torch::NoGradGuard no_grad;
    torch::Tensor logits =
        engine->Forward(torch::tensor(ids, torch::kInt64).view({1, -1})).contiguous();
    std::printf("{\"shape\": [%lld, %lld], \"logits\": [", static_cast<long long>(logits.size(1)),
                static_cast<long long>(logits.size(2)));
    const float* p = logits.data_ptr<float>();
    for (int64_t i = 0; i < logits.numel(); ++i) std::printf(i ? ",%.8g" : "%.8g", p[i]);
    std::printf("]}\n");
    rc = 0;
  }
  return rc;
}
