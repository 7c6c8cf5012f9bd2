// Exporting a ZeRO-3 engine as a Hugging Face model directory (engine/checkpoint/hf_export.h):
// the gathered weights written out and loaded back into a fresh engine are the trained
// ones, in one file or sharded with an index, at any world size; a failed export leaves
// nothing that looks complete. Against transformers' own layout:
// tests/models/hf_fixture_test.cpp; from a checkpoint on disk: tests/e2e/one_shot_test.cpp.
#include "engine/checkpoint/hf_export.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "engine/models/checkpoint_reader.h"
#include "engine/util/files.h"
#include "engine/zero/zero_engine.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_env.h"
#include "tests/support/tiny_engine.h"
#include "engine/weights/export.h"
#include "engine/weights/model_weights.h"

namespace zerod::checkpoint {
namespace {

using zerod::testing::ExpectSameGatheredParameters;
using zerod::testing::TempDir;
using zerod::testing::TinyEngine;
using zerod::testing::World;
using zerod::testing::WriteText;

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
  ASSERT_TRUE(weights::InitWeights(*trained, 3, 0.02).ok());
  // Three steps of real training so the weights differ from any init.
  auto ids = torch::randint(0, 64, {2, 8}, torch::kInt64);
  for (int s = 0; s < 3; ++s) {
    trained->Forward(ids).sum().backward();
    ASSERT_TRUE(trained->Step({.lr = 1e-2}, 1.0, 1.0, false).ok());
  }
  std::unique_ptr<HfExportWriter> writer;
  if (World().rank() == 0) {
    writer = std::make_unique<HfExportWriter>(out.path(), weights::ExportPlan(*trained), max_file_bytes);
    ASSERT_TRUE(writer->Begin(zerod::testing::TinyLlamaConfigJson()).ok());
  }
  ASSERT_TRUE(weights::Export(*trained, writer.get()).ok());
  (void)World().Barrier();
  EXPECT_EQ(std::ifstream(out.File("model.safetensors.index.json")).good(), expect_index);
  EXPECT_EQ(std::ifstream(out.File("model.safetensors")).good(), !expect_index);
  auto reader = models::CheckpointReader::Open(out.path());
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto reloaded = TinyEngine();
  ASSERT_TRUE(weights::LoadWeights(*reloaded, **reader).ok());
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

// The export is a model directory AutoTokenizer loads too: the source's tokenizer files
// come along (those it has), and config.json names one dtype, the tensors'.
TEST(HfExportTest, AnExportCarriesTheTokenizerFilesAndNamesOneDtype) {
  TempDir tmp;
  if (World().rank() != 0) return;
  const std::string model = tmp.File("model");
  ASSERT_TRUE(MakeDirectories(model).ok());
  WriteText(JoinPath(model, "config.json"), R"({"dtype": "float32", "torch_dtype": "float32"})");
  WriteText(JoinPath(model, "tokenizer.json"), "{\"model\": {}}");
  WriteText(JoinPath(model, "chat_template.jinja"), "{{ messages }}");
  const std::string config = ExportedConfigJson(model, DType::kBFloat16);
  const auto parsed = nlohmann::json::parse(config);
  EXPECT_EQ(parsed.value("dtype", ""), "bfloat16") << config;
  EXPECT_FALSE(parsed.contains("torch_dtype")) << config;
  HfExportWriter writer(tmp.File("hf"), {{"a", DType::kFloat32, {2}}});
  ASSERT_TRUE(writer.Begin(config).ok());
  ASSERT_TRUE(writer.AddCompanionFiles(model).ok());
  const float values[2] = {1, 2};
  ASSERT_TRUE(writer.Append("a", values).ok());
  ASSERT_TRUE(writer.Finish().ok());
  EXPECT_EQ(ReadFileToString(tmp.File("hf/tokenizer.json")), "{\"model\": {}}");
  EXPECT_EQ(ReadFileToString(tmp.File("hf/chat_template.jinja")), "{{ messages }}");
  EXPECT_FALSE(std::ifstream(tmp.File("hf/special_tokens_map.json")).good());
}

// A sharded export, then a smaller one into the same directory: the earlier shards and
// index go, so transformers finds one consistent set of weights.
TEST(HfExportTest, AReExportRemovesTheEarlierExportsOtherWeightFiles) {
  TempDir tmp;
  if (World().rank() != 0) return;
  const std::string dir = tmp.File("hf");
  const std::vector<models::TensorSpec> plan = {{"a", DType::kFloat32, {4}},
                                                {"b", DType::kFloat32, {4}}};
  const float values[4] = {1, 2, 3, 4};
  for (uint64_t max_bytes : {8ull, 5'000'000'000ull}) {
    HfExportWriter writer(dir, plan, max_bytes);
    ASSERT_TRUE(writer.Begin("{}").ok());
    ASSERT_TRUE(writer.Append("a", values).ok());
    ASSERT_TRUE(writer.Append("b", values).ok());
    ASSERT_TRUE(writer.Finish().ok());
  }
  std::vector<std::string> names = ListDirectory(dir).value();
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"config.json", "model.safetensors"}));
}

// The export never overwrites what is not an earlier export.
TEST(HfExportTest, AnExportIntoADirectoryOfOtherFilesWritesNothing) {
  TempDir tmp;
  if (World().rank() != 0) return;
  ASSERT_TRUE(MakeDirectories(tmp.File("hf")).ok());
  WriteText(tmp.File("hf/README.md"), "my notes");
  HfExportWriter writer(tmp.File("hf"), {{"a", DType::kFloat32, {2}}});
  EXPECT_EQ(writer.Begin("{}").code(), absl::StatusCode::kFailedPrecondition);
  std::vector<std::string> names = ListDirectory(tmp.File("hf")).value();
  EXPECT_EQ(names, (std::vector<std::string>{"README.md"}));
}

}  // namespace
}  // namespace zerod::checkpoint
