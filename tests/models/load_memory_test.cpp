// Loading a checkpoint never holds the model in any rank's memory: each rank copies only
// its shards' elements out of the memory-mapped files and lets the mapped pages go after
// each copy (SafetensorsFile::DropPages). The peak resident-set growth while loading a
// ~90 MB float32 checkpoint is measured with proc_stats (VmHWM, reset just before).
#include <gtest/gtest.h>

#include <cstdio>

#include "engine/models/checkpoint_reader.h"
#include "engine/models/decoder.h"
#include "engine/models/hf_config.h"
#include "engine/util/proc_stats.h"
#include "engine/zero/zero_engine.h"
#include "tests/support/test_env.h"
#include "engine/weights/model_weights.h"

namespace zerod::models {
namespace {

using zerod::testing::TempDir;
using zerod::testing::World;

// Writes random float32 weights for every parameter of `config`.
void WriteRandomCheckpoint(const DecoderConfig& config, const std::string& path) {
  torch::NoGradGuard no_grad;
  auto units = BuildDecoderUnits(config);
  std::vector<torch::Tensor> keep;
  std::vector<TensorToWrite> tensors;
  for (const auto& unit : units) {
    for (const auto& spec : unit->specs()) {
      keep.push_back(torch::rand(spec.shape) - 0.5);
      tensors.push_back({spec.name, DType::kFloat32, spec.shape, keep.back().data_ptr<float>()});
    }
  }
  EXPECT_TRUE(WriteSafetensors(path, tensors).ok());
}

TEST(CheckpointLoadMemoryTest, PeakRssGrowthWhileLoadingIsFarBelowTheModelSize) {
  TempDir dir;
  const std::string json = zerod::testing::TinyLlamaConfigJson(4096, 512, 8);
  zerod::testing::WriteText(dir.File("config.json"), json);
  const DecoderConfig config = ParseDecoderConfig(json, "big").value();
  const int64_t model_bytes = config.NumParameters() * 4;
  if (World().rank() == 0) WriteRandomCheckpoint(config, dir.File("model.safetensors"));
  (void)World().Barrier();
  zero::EngineOptions opts;
  auto engine = zero::ZeroEngine::Create(BuildDecoderUnits(config), &World(), opts).value();
  auto reader = CheckpointReader::Open(dir.path());
  ASSERT_TRUE(reader.ok()) << reader.status();
  const int64_t before = ResidentSetBytes();
  const bool peak_resettable = ResetPeakResidentSetBytes();
  ASSERT_TRUE(weights::LoadWeights(*engine, **reader).ok());
  const int64_t after = ResidentSetBytes();
  const int64_t growth = (peak_resettable ? PeakResidentSetBytes() : after) - before;
  std::printf("  rank %d/%d: model %.1f MB, %s RSS growth while loading %.1f MB\n", World().rank(),
              World().world_size(), model_bytes / 1e6, peak_resettable ? "peak" : "final",
              growth / 1e6);
  // One unit's shard buffer plus the pages of the slice being copied: with the largest
  // unit (the embedding, 8 MB) well under a quarter of the model at any world size.
  EXPECT_LT(growth, model_bytes / 4);
  EXPECT_LT(after - before, model_bytes / 4);
}

}  // namespace
}  // namespace zerod::models
