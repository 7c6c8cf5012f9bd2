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

}  // namespace
}  // namespace zerod::models
