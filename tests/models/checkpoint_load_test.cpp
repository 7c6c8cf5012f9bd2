// Loading Hugging Face safetensors weights straight into ZeRO shards, at any world size:
// every rank reads only its slice, and the gathered parameters equal the file's tensors.
#include <gtest/gtest.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "engine/models/checkpoint_reader.h"
#include "engine/models/decoder.h"
#include "engine/zero/zero_engine.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_env.h"
#include "tests/support/tiny_engine.h"
#include "engine/weights/model_weights.h"

namespace zerod::models {
namespace {

using zerod::testing::ExpectSameGatheredParameters;
using zerod::testing::TempDir;
using zerod::testing::TinyEngine;
using zerod::testing::TinyLlama;
using zerod::testing::World;

// Writes the tiny model's transformers-style initial values (seed) as a checkpoint:
// one file, or two files and an index when `sharded`.
void WriteCheckpoint(const TempDir& dir, uint64_t seed, bool sharded) {
  zerod::testing::WriteText(dir.File("config.json"), zerod::testing::TinyLlamaConfigJson());
  if (World().rank() != 0) return;
  auto units = BuildDecoderUnits(TinyLlama());
  std::vector<torch::Tensor> keep;
  std::vector<TensorToWrite> tensors[2];
  nlohmann::json weight_map;
  for (size_t u = 0; u < units.size(); ++u) {
    keep.push_back(InitialValues(*units[u], seed, 0.02));
    int64_t offset = 0;
    for (const auto& spec : units[u]->specs()) {
      int64_t n = 1;
      for (int64_t d : spec.shape) n *= d;
      const int file = sharded && u >= units.size() / 2 ? 1 : 0;
      tensors[file].push_back(
          {spec.name, DType::kFloat32, spec.shape, keep.back().data_ptr<float>() + offset});
      weight_map[spec.name] = absl::StrCat("model-0000", file + 1, "-of-00002.safetensors");
      offset += n;
    }
  }
  if (!sharded) {
    ASSERT_TRUE(WriteSafetensors(dir.File("model.safetensors"), tensors[0]).ok());
    return;
  }
  for (int f = 0; f < 2; ++f) {
    ASSERT_TRUE(
        WriteSafetensors(dir.File(absl::StrCat("model-0000", f + 1, "-of-00002.safetensors")),
                         tensors[f])
            .ok());
  }
  zerod::testing::WriteText(
      dir.File("model.safetensors.index.json"),
      nlohmann::json{{"metadata", nlohmann::json::object()}, {"weight_map", weight_map}}.dump());
}

// Loads a checkpoint of seed's initial values and compares with InitWeights(seed).
void ExpectLoadedEqualsInitialised(uint64_t seed, bool sharded) {
  TempDir dir;
  WriteCheckpoint(dir, seed, sharded);
  (void)World().Barrier();
  auto reader = CheckpointReader::Open(dir.path());
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto loaded = TinyEngine();
  ASSERT_TRUE(weights::LoadWeights(*loaded, **reader).ok());
  auto initialised = TinyEngine();
  ASSERT_TRUE(weights::InitWeights(*initialised, seed, 0.02).ok());
  ExpectSameGatheredParameters(*loaded, *initialised);
}

TEST(CheckpointLoadTest, ShardsLoadedFromOneFileEqualTheWrittenTensors) {
  ExpectLoadedEqualsInitialised(7, /*sharded=*/false);
}

TEST(CheckpointLoadTest, ShardedCheckpointsAreFollowedThroughTheirIndex) {
  ExpectLoadedEqualsInitialised(8, /*sharded=*/true);
}

TEST(CheckpointLoadTest, JobTrainsFromTheDirectorysWeightsNotFromItsSeed) {
  // The checkpoint holds seed 77's values; the job's --seed is 5. Loaded weights must win:
  // the first loss differs from a job that initialises from seed 5.
  TempDir dir, fresh;
  WriteCheckpoint(dir, 77, false);
  zerod::testing::WriteText(fresh.File("config.json"), zerod::testing::TinyLlamaConfigJson());
  const std::string ds = R"({"train_batch_size": 4, "zero_optimization": {"stage": 3}})";
  zerod::testing::WriteText(dir.File("ds.json"), ds);
  if (World().rank() == 0)
    zerod::testing::WriteTokens(dir.File("data.bin"), zerod::testing::SyntheticTokens(5000, 64, 2));
  (void)World().Barrier();
  const JobSpec loaded = zerod::testing::DirJobSpec(dir, 2, 16, 5);
  JobSpec initialised = loaded;
  initialised.model_dir = fresh.path();
  auto a = Job::Create(loaded, &World());
  auto b = Job::Create(initialised, &World());
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  auto la = (*a)->Step();
  auto lb = (*b)->Step();
  ASSERT_TRUE(la.ok() && lb.ok());
  EXPECT_NE(la->loss, lb->loss);
  EXPECT_TRUE(std::isfinite(la->loss));
}

TEST(CheckpointLoadTest, MissingTensorOrWrongShapeNamesTheTensor) {
  TempDir dir;
  zerod::testing::WriteText(dir.File("config.json"), zerod::testing::TinyLlamaConfigJson());
  if (World().rank() == 0) {
    std::vector<float> w(10, 0.f);
    ASSERT_TRUE(WriteSafetensors(dir.File("model.safetensors"),
                                 {{"model.embed_tokens.weight", DType::kFloat32, {2, 5}, w.data()}})
                    .ok());
  }
  (void)World().Barrier();
  auto reader = CheckpointReader::Open(dir.path());
  ASSERT_TRUE(reader.ok());
  auto engine = TinyEngine();
  absl::Status s = weights::LoadWeights(*engine, **reader);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("model.embed_tokens.weight"), std::string::npos) << s;
  EXPECT_NE(s.message().find("has shape (2, 5); config.json implies (64, 32)"), std::string::npos)
      << s;
}

}  // namespace
}  // namespace zerod::models
