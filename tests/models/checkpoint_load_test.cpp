// Loading Hugging Face safetensors weights straight into ZeRO shards, at any world size:
// every rank reads only its slice, and the gathered parameters equal the file's tensors.
#include <gtest/gtest.h>

#include <fstream>

#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "engine/models/checkpoint_reader.h"
#include "engine/models/llama.h"
#include "engine/zero/zero_engine.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_env.h"

namespace zerod::models {
namespace {

using zerod::testing::TempDir;
using zerod::testing::World;

LlamaConfig Tiny() {
  return ParseLlamaConfig(zerod::testing::TinyLlamaConfigJson(), "tiny").value();
}

// Writes the tiny model's transformers-style initial values (seed) as a checkpoint:
// one file, or two files and an index when `sharded`.
void WriteCheckpoint(const TempDir& dir, uint64_t seed, bool sharded) {
  zerod::testing::WriteText(dir.File("config.json"), zerod::testing::TinyLlamaConfigJson());
  if (World().rank() != 0) return;
  auto units = BuildLlamaUnits(Tiny());
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

std::unique_ptr<zero::ZeroEngine> Engine() {
  zero::EngineOptions opts;
  opts.persistence_threshold_numel = 0;
  return zero::ZeroEngine::Create(BuildLlamaUnits(Tiny()), &World(), opts).value();
}

void ExpectSameGatheredParameters(zero::ZeroEngine& a, zero::ZeroEngine& b) {
  ASSERT_TRUE(a.FinishUpdates().ok() && b.FinishUpdates().ok());
  for (int i = 0; i < a.num_units(); ++i) {
    for (auto* e : {&a, &b}) {
      ASSERT_TRUE(e->group(i).StartFetch().ok());
      ASSERT_TRUE(e->group(i).WaitFetch().ok());
    }
    for (size_t k = 0; k < a.unit(i).params().size(); ++k) {
      EXPECT_TRUE(torch::equal(a.unit(i).params()[k], b.unit(i).params()[k]))
          << a.unit(i).specs()[k].name;
    }
    ASSERT_TRUE(a.group(i).Release().ok());
    ASSERT_TRUE(b.group(i).Release().ok());
  }
}

// Loads a checkpoint of seed's initial values and compares with InitWeights(seed).
void ExpectLoadedEqualsInitialised(uint64_t seed, bool sharded) {
  TempDir dir;
  WriteCheckpoint(dir, seed, sharded);
  (void)World().Barrier();
  auto reader = CheckpointReader::Open(dir.path());
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto loaded = Engine();
  ASSERT_TRUE(loaded->LoadWeights(**reader).ok());
  auto initialised = Engine();
  initialised->InitWeights(seed, 0.02);
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
  auto engine = Engine();
  absl::Status s = engine->LoadWeights(**reader);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("model.embed_tokens.weight"), std::string::npos) << s;
  EXPECT_NE(s.message().find("has shape (2, 5); config.json implies (64, 32)"), std::string::npos)
      << s;
}

}  // namespace
}  // namespace zerod::models

namespace zerod::models {
namespace {

using checkpoint::HfExportWriter;

// Export after training, reload into a fresh engine: identical parameters and logits,
// at any world size. A small file limit forces the sharded layout with its index.
void ExpectExportRoundTrip(uint64_t max_file_bytes, bool expect_index) {
  TempDir src, out;
  zerod::testing::WriteText(src.File("config.json"), zerod::testing::TinyLlamaConfigJson());
  zerod::testing::WriteText(src.File("ds.json"),
                            R"({"train_batch_size": 4, "zero_optimization": {"stage": 3}})");
  if (World().rank() == 0)
    zerod::testing::WriteTokens(src.File("data.bin"), zerod::testing::SyntheticTokens(5000, 64, 4));
  (void)World().Barrier();
  auto trained = Engine();
  trained->InitWeights(3, 0.02);
  // Three steps of real training so the weights differ from any init.
  auto ids = torch::randint(0, 64, {2, 8}, torch::kInt64);
  for (int s = 0; s < 3; ++s) {
    trained->Forward(ids).sum().backward();
    ASSERT_TRUE(trained->Step({.lr = 1e-2}, 1.0, 1.0, false).ok());
  }
  std::unique_ptr<HfExportWriter> writer;
  if (World().rank() == 0) {
    writer = std::make_unique<HfExportWriter>(out.path(), trained->ExportPlan(), max_file_bytes);
    ASSERT_TRUE(writer->Begin(zerod::testing::TinyLlamaConfigJson()).ok());
  }
  ASSERT_TRUE(trained->Export(writer.get()).ok());
  (void)World().Barrier();
  EXPECT_EQ(std::ifstream(out.File("model.safetensors.index.json")).good(), expect_index);
  EXPECT_EQ(std::ifstream(out.File("model.safetensors")).good(), !expect_index);
  auto reader = CheckpointReader::Open(out.path());
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto reloaded = Engine();
  ASSERT_TRUE(reloaded->LoadWeights(**reader).ok());
  ExpectSameGatheredParameters(*trained, *reloaded);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(trained->Forward(ids), reloaded->Forward(ids)));
}

TEST(HfExportTest, ExportThenReloadGivesIdenticalLogits) {
  ExpectExportRoundTrip(5'000'000'000ull, /*expect_index=*/false);
}

TEST(HfExportTest, LargeExportsAreShardedWithAnIndex) {
  ExpectExportRoundTrip(/*max_file_bytes=*/20'000, /*expect_index=*/true);
}

// A failed export (here: a tensor never written, as when a gather fails midway) leaves no
// config.json, no model.safetensors and no .partial file behind.
TEST(HfExportTest, AFailedExportLeavesNothingThatLooksComplete) {
  TempDir out;  // a collective: every rank makes it, rank 0 writes
  if (World().rank() != 0) return;
  const std::vector<TensorSpec> plan = {{"a", DType::kFloat32, {4}}, {"b", DType::kFloat32, {4}}};
  {
    HfExportWriter writer(out.path(), plan);
    ASSERT_TRUE(writer.Begin("{}").ok());
    const float values[4] = {1, 2, 3, 4};
    ASSERT_TRUE(writer.Append("a", values).ok());
    EXPECT_FALSE(writer.Finish().ok());  // "b" never came
  }
  for (const char* name :
       {"config.json", "model.safetensors", "config.json.partial", "model.safetensors.partial"}) {
    EXPECT_FALSE(std::ifstream(out.File(name)).good()) << name << " was left behind";
  }
}

}  // namespace
}  // namespace zerod::models
