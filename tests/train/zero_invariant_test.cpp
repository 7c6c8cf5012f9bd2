// DESIGN.md's invariant: ZeRO-3 is only a memory layout. Run under mpirun at world
// sizes 1, 2 and 4 (see tests/CMakeLists.txt), each run compares its losses with the
// plain LibTorch reference, so all world sizes agree with it and with each other.
#include <gtest/gtest.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "tests/support/plain_trainer.h"
#include "tests/support/test_env.h"

namespace zerod {
namespace {

using testing::TempDir;
using testing::World;

struct Files {
  TempDir dir;
  JobSpec spec;
  Files(bool checkpointing, int64_t persistence_threshold) {
    testing::WriteText(dir.File("config.json"), testing::TinyLlamaConfigJson());
    // train_batch_size 16 of micro-batches of 2: 8, 4 or 2 accumulation steps at world
    // size 1, 2, 4. Clipping at 0.5 is active (the norm starts above it).
    testing::WriteText(dir.File("ds.json"), absl::StrCat(R"({
      "train_batch_size": 16, "train_micro_batch_size_per_gpu": 2, "gradient_clipping": 0.5,
      "optimizer": {"type": "AdamW", "params": {"lr": 3e-3, "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.1}},
      "scheduler": {"type": "WarmupLR", "params": {"warmup_min_lr": 1e-4, "warmup_max_lr": 3e-3,
                    "warmup_num_steps": 5, "warmup_type": "linear"}},
      "zero_optimization": {"stage": 3, "offload_param": {"device": "cpu"}, "offload_optimizer": {"device": "cpu"},
                            "stage3_param_persistence_threshold": )", persistence_threshold, R"(,
                            "stage3_prefetch_bucket_size": 5000}})"));
    if (World().rank() == 0) testing::WriteTokens(dir.File("data.bin"), testing::SyntheticTokens(20000, 64, 3));
    (void)World().Barrier();
    spec.model_dir = dir.path().string();
    spec.ds_config_path = dir.File("ds.json");
    spec.data_path = dir.File("data.bin");
    spec.steps = 20;
    spec.seq_len = 16;
    spec.seed = 11;
    spec.activation_checkpointing = checkpointing;
  }
};

void ExpectSameLossesAsPlainTraining(bool checkpointing, int64_t persistence_threshold) {
  Files files(checkpointing, persistence_threshold);
  std::vector<double> want = testing::PlainTrainingLosses(files.spec);
  auto job = Job::Create(files.spec, &World());
  ASSERT_TRUE(job.ok()) << job.status();
  bool clipped = false;
  for (int64_t i = 0; i < files.spec.steps; ++i) {
    auto m = (*job)->Step();
    ASSERT_TRUE(m.ok()) << m.status();
    clipped |= m->grad_norm > 0.5;
    const double rel = std::abs(m->loss - want[i]) / std::abs(want[i]);
    EXPECT_LT(rel, 1e-5) << "step " << i + 1 << ": zero " << m->loss << " plain " << want[i]
                         << " (world " << World().world_size() << ")";
  }
  EXPECT_TRUE(clipped) << "the test must exercise clipping";
  EXPECT_LT(want.back(), want.front() - 0.1) << "the loss must fall for the comparison to mean anything";
}

TEST(ZeroInvariantTest, SameLossesAsPlainTrainingWithoutCheckpointing) {
  ExpectSameLossesAsPlainTraining(/*checkpointing=*/false, /*persistence_threshold=*/0);
}

TEST(ZeroInvariantTest, SameLossesAsPlainTrainingWithActivationCheckpointing) {
  ExpectSameLossesAsPlainTraining(/*checkpointing=*/true, /*persistence_threshold=*/0);
}

TEST(ZeroInvariantTest, SameLossesWithPersistentSmallUnits) {
  ExpectSameLossesAsPlainTraining(/*checkpointing=*/false, /*persistence_threshold=*/1'000'000);
}

}  // namespace
}  // namespace zerod
