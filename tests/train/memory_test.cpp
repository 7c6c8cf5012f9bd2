// Per-rank memory under ZeRO-3, at the Job level: between steps each rank keeps about
// 1/world of the parameter, gradient and optimizer bytes, and nothing gathered.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "tests/support/test_env.h"

namespace zerod {
namespace {

using testing::World;

TEST(JobMemoryTest, EachRankKeepsAboutOneWorldthOfTrainingStateBetweenSteps) {
  // Kept 16-bit shards, then derived ones (Note [derived shard]: none kept beside the
  // masters, which every unit has here: the optimizer runs where the shards are).
  for (const bool derived : {false, true}) {
    SCOPED_TRACE(derived ? "derived 16-bit weights" : "kept 16-bit shards");
    testing::TempDir dir;
    // A model whose units dwarf the alignment padding.
    testing::WriteText(dir.File("config.json"), testing::TinyLlamaConfigJson(256, 128, 2));
    testing::WriteText(dir.File("ds.json"),
                       absl::StrCat(R"({"train_batch_size": 4, "bf16": {"enabled": true},
        "zero_optimization": {"stage": 3, "stage3_param_persistence_threshold": 0,
                              "zerod_derived_weights": )",
                                    derived ? "true" : "false", "}}"));
    if (World().rank() == 0)
      testing::WriteTokens(dir.File("data.bin"), testing::SyntheticTokens(5000, 256, 1));
    (void)World().Barrier();
    const JobSpec spec = testing::DirJobSpec(dir, 2, 16, 1);
    auto job = Job::Create(spec, &World());
    ASSERT_TRUE(job.ok()) << job.status();
    ASSERT_TRUE((*job)->Step().ok());
    const MemoryStats m = (*job)->Memory();
    const double world = World().world_size();
    const double total = static_cast<double>(m.total_param_numel);
    // bf16 parameters (2 bytes, or none derived), fp32 gradients (4), fp32 master + 2
    // moments (12).
    if (derived) {
      EXPECT_EQ(m.param_shard_bytes, 0);
    } else {
      EXPECT_NEAR(m.param_shard_bytes / (2 * total / world), 1.0, 0.01);
    }
    EXPECT_NEAR(m.grad_shard_bytes / (4 * total / world), 1.0, 0.01);
    EXPECT_NEAR(m.optimizer_shard_bytes / (12 * total / world), 1.0, 0.01);
    EXPECT_EQ(m.gathered_bytes, 0);
    EXPECT_GT(m.rss_bytes, 0);
    (void)World().Barrier();  // before rank 0's directory goes
  }
}

}  // namespace
}  // namespace zerod
