// Exporting a ZeRO-3 engine as a Hugging Face model directory (engine/checkpoint/hf_export.h):
// the gathered weights written out and loaded back into a fresh engine are the trained
// ones, in one file or sharded with an index, at any world size; a failed export leaves
// nothing that looks complete. Against transformers' own layout:
// tests/models/hf_fixture_test.cpp; from a checkpoint on disk: tests/e2e/one_shot_test.cpp.
#include "engine/checkpoint/hf_export.h"

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <vector>

#include "engine/models/checkpoint_reader.h"
#include "engine/zero/zero_engine.h"
#include "tests/support/test_env.h"
#include "tests/support/tiny_engine.h"

namespace zerod::checkpoint {
namespace {

using zerod::testing::ExpectSameGatheredParameters;
using zerod::testing::TempDir;
using zerod::testing::TinyEngine;
using zerod::testing::World;

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
  auto trained = TinyEngine();
  ASSERT_TRUE(trained->InitWeights(3, 0.02).ok());
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
  auto reader = models::CheckpointReader::Open(out.path());
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto reloaded = TinyEngine();
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
  const std::vector<models::TensorSpec> plan = {{"a", DType::kFloat32, {4}},
                                                {"b", DType::kFloat32, {4}}};
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
}  // namespace zerod::checkpoint
