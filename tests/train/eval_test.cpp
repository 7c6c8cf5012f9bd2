// zerod --eval's Evaluate under mpirun at world sizes 1, 2 and 4: the same mean loss as a
// plain LibTorch forward of the same model over the same windows, at every world size.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "engine/api.h"
#include "tests/support/plain_eval.h"
#include "tests/support/test_env.h"

namespace zerod {
namespace {

using testing::TempDir;
using testing::World;

// 2000 tokens = 117 windows of 16 + 1; a batch of 8 windows in forwards of 2 per rank
// is 4, 2 or 1 forwards per rank at world size 1, 2, 4.
struct EvalFiles {
  TempDir dir;
  EvalSpec spec;
  EvalFiles() {
    testing::WriteText(dir.File("config.json"), testing::TinyLlamaConfigJson());
    testing::WriteText(dir.File("ds.json"), R"({
      "train_batch_size": 8, "train_micro_batch_size_per_gpu": 2,
      "zero_optimization": {"stage": 3, "offload_param": {"device": "cpu"},
                            "stage3_param_persistence_threshold": 0,
                            "stage3_prefetch_bucket_size": 5000}})");
    if (World().rank() == 0)
      testing::WriteTokens(dir.File("data.bin"), testing::SyntheticTokens(2000, 64, 5));
    (void)World().Barrier();
    spec.model_dir = dir.path();
    spec.data_path = dir.File("data.bin");
    spec.seq_len = 16;
    spec.seed = 7;
  }
};

double Rel(double a, double b) { return std::abs(a - b) / std::abs(b); }

TEST(EvalTest, WholeFileMatchesOnePlainForwardOverTheSameWindows) {
  EvalFiles files;
  auto result = Evaluate(files.spec, &World());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->windows, 2000 / 17);
  EXPECT_EQ(result->tokens, result->windows * 16);
  const double want = testing::PlainEvalLoss(files.spec, result->windows, result->windows);
  EXPECT_LT(Rel(result->loss, want), 1e-5) << "zero " << result->loss << " plain " << want;
  EXPECT_NEAR(result->perplexity, std::exp(result->loss), 1e-9 * result->perplexity);
  if (World().rank() == 0) {
    std::printf("  world %d: eval loss %.8f, plain %.8f, relative difference %.2e\n",
                World().world_size(), result->loss, want, Rel(result->loss, want));
  }
}

// World-size independence: with a config every forward holds 2 windows at any world
// size, and the result equals the world-free reference in forwards of 2 to 5e-7, so
// world sizes 1, 2 and 4 agree with each other to 1e-6.
TEST(EvalTest, BatchesWithAConfigScoreTheSameWindowsAtEveryWorldSize) {
  EvalFiles files;
  files.spec.ds_config_path = files.dir.File("ds.json");
  files.spec.batches = 5;
  auto result = Evaluate(files.spec, &World());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->windows, 40);  // 5 batches of train_batch_size 8
  EXPECT_EQ(result->tokens, 40 * 16);
  const double want = testing::PlainEvalLoss(files.spec, 40, 2);
  EXPECT_LT(Rel(result->loss, want), 5e-7) << "zero " << result->loss << " plain " << want;
  if (World().rank() == 0) {
    std::printf("  world %d: 5 batches, eval loss %.10f, reference %.10f (%.2e)\n",
                World().world_size(), result->loss, want, Rel(result->loss, want));
  }
}

TEST(EvalTest, WholeFileWithAConfigPadsTheLastBatch) {
  // 117 windows = 14 batches of 8 and 5 windows more: every rank runs the 15th batch.
  EvalFiles files;
  files.spec.ds_config_path = files.dir.File("ds.json");
  auto result = Evaluate(files.spec, &World());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->windows, 117);
  const double want = testing::PlainEvalLoss(files.spec, 117, 2);
  EXPECT_LT(Rel(result->loss, want), 5e-7) << "zero " << result->loss << " plain " << want;
}

TEST(EvalTest, BadInputFailsEveryRankWithTheSameError) {
  EvalFiles files;
  files.spec.batches = 1000;
  auto too_many = Evaluate(files.spec, &World());
  ASSERT_FALSE(too_many.ok());
  EXPECT_NE(too_many.status().message().find("lower --batches"), std::string::npos)
      << too_many.status();
  files.spec.batches = 0;
  files.spec.seq_len = 100;
  if (World().rank() == 0) testing::WriteTokens(files.dir.File("short.bin"), {1, 2, 3});
  (void)World().Barrier();
  files.spec.data_path = files.dir.File("short.bin");
  auto short_file = Evaluate(files.spec, &World());
  ASSERT_FALSE(short_file.ok());
  EXPECT_NE(short_file.status().message().find("fewer than one evaluation window"),
            std::string::npos)
      << short_file.status();
}

}  // namespace
}  // namespace zerod
