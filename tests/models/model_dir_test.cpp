#include "engine/models/model_dir.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "engine/util/files.h"
#include "tests/support/test_env.h"

namespace zerod::models {
namespace {

TEST(ModelDirTest, ADirectoryIsItself) {
  EXPECT_EQ(ResolveModelDir(ZEROD_SOURCE_DIR "/configs/models/tiny-llama").value(),
            ZEROD_SOURCE_DIR "/configs/models/tiny-llama");
}

TEST(ModelDirTest, AHubIdIsFoundInTheHuggingFaceCache) {
  testing::TempDir cache;
  const std::string repo = cache.File("models--meta-llama--Llama-2-7b-hf");
  ASSERT_TRUE(MakeDirectories(repo + "/refs").ok());
  ASSERT_TRUE(MakeDirectories(repo + "/snapshots/abc123").ok());
  std::ofstream(repo + "/refs/main") << "abc123\n";
  setenv("HF_HUB_CACHE", cache.path().c_str(), 1);
  auto dir = ResolveModelDir("meta-llama/Llama-2-7b-hf");
  ASSERT_TRUE(dir.ok()) << dir.status();
  EXPECT_EQ(*dir, repo + "/snapshots/abc123");
  auto missing = ResolveModelDir("meta-llama/Llama-3-8B");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("huggingface-cli download meta-llama/Llama-3-8B"),
            std::string::npos)
      << missing.status();
  unsetenv("HF_HUB_CACHE");
  EXPECT_NE(ResolveModelDir("/no/such/dir").status().message().find("/no/such/dir"),
            std::string::npos);
}

// A new user's probe: a directory of pytorch_model.bin, or a zerod checkpoint given as
// --model, trained from random weights without a word. Now it is refused, with the way
// out; config-only directories (no weights at all) and --init random still initialise.
TEST(ModelDirTest, WeightsZerodCannotReadAreRefusedNamingThemAndTheWayOut) {
  testing::TempDir tmp;
  testing::WriteText(tmp.File("config.json"), "{}");
  EXPECT_TRUE(CheckModelWeights(tmp.path(), false).ok()) << "config only";
  testing::WriteText(tmp.File("pytorch_model.bin"), "pickle");
  const absl::Status s = CheckModelWeights(tmp.path(), false);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_NE(s.message().find("pytorch_model.bin"), std::string::npos) << s;
  EXPECT_NE(s.message().find("save_pretrained"), std::string::npos) << s;
  EXPECT_NE(s.message().find("--init random"), std::string::npos) << s;
  EXPECT_TRUE(CheckModelWeights(tmp.path(), true).ok()) << "--init random reads none";
  testing::WriteText(tmp.File("model.safetensors"), "weights");
  EXPECT_TRUE(CheckModelWeights(tmp.path(), false).ok()) << "safetensors beside it load";
}

TEST(ModelDirTest, AZerodCheckpointIsNotAModelDirectory) {
  testing::TempDir tmp;
  testing::WriteText(tmp.File("config.json"), "{}");
  testing::WriteText(tmp.File("zerod_checkpoint.json"), "{}");
  testing::WriteText(tmp.File("rank_00000_of_00001.safetensors"), "state");
  const absl::Status s = CheckModelWeights(tmp.path(), false);
  EXPECT_NE(s.message().find("is a zerod checkpoint"), std::string::npos) << s;
  EXPECT_NE(s.message().find("--resume " + tmp.path()), std::string::npos) << s;
  EXPECT_NE(s.message().find("--from-checkpoint " + tmp.path()), std::string::npos) << s;
}

}  // namespace
}  // namespace zerod::models
