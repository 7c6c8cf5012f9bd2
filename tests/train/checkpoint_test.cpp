// Sharded checkpoints through the Job: a job saved after 3 steps and resumed for 3 more
// takes exactly the steps an uninterrupted 6-step job takes (weights, both Adam moments,
// step count, LR schedule, loss scale), at every world size; a failed save keeps the
// previous checkpoint. Resuming at another world size: tests/e2e/one_shot_test.cpp.
#include <gtest/gtest.h>

#include <fstream>

#include "engine/api.h"
#include "tests/support/test_env.h"

namespace zerod {
namespace {

using testing::World;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteText(dir_.File("config.json"), testing::TinyLlamaConfigJson());
    // Warmup keeps the LR moving across the save, so a lost schedule would show.
    testing::WriteText(dir_.File("ds.json"), R"({"train_batch_size": 8,
      "gradient_clipping": 1.0,
      "optimizer": {"type": "AdamW", "params": {"lr": 3e-3}},
      "scheduler": {"type": "WarmupLR", "params": {"warmup_num_steps": 10}},
      "zero_optimization": {"stage": 3, "stage3_param_persistence_threshold": 0}})");
    if (World().rank() == 0)
      testing::WriteTokens(dir_.File("data.bin"), testing::SyntheticTokens(20000, 64, 5));
    (void)World().Barrier();
  }
  JobSpec Spec(int64_t steps) const { return testing::DirJobSpec(dir_, steps, 16, 7); }
  // Steps `job` until it has done `until` steps; returns their losses.
  static std::vector<double> Run(Job& job, int64_t until) {
    std::vector<double> losses;
    while (job.steps_done() < until) {
      auto m = job.Step();
      EXPECT_TRUE(m.ok()) << m.status();
      if (!m.ok()) break;
      losses.push_back(m->loss);
    }
    return losses;
  }
  testing::TempDir dir_;
};

TEST_F(CheckpointTest, ResumedJobTakesTheSameStepsAsAnUninterruptedOne) {
  auto straight = Job::Create(Spec(6), &World());
  ASSERT_TRUE(straight.ok()) << straight.status();
  const std::vector<double> expected = Run(**straight, 6);

  auto first = Job::Create(Spec(6), &World());
  ASSERT_TRUE(first.ok());
  Run(**first, 3);
  ASSERT_TRUE((*first)->SaveCheckpoint(dir_.File("ckpt")).ok());

  JobSpec resumed_spec = Spec(6);
  resumed_spec.resume_from = dir_.File("ckpt");
  auto resumed = Job::Create(resumed_spec, &World());
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ((*resumed)->steps_done(), 3);
  const std::vector<double> after = Run(**resumed, 6);
  ASSERT_EQ(after.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(after[i], expected[3 + i]) << "step " << 4 + i;
}

TEST_F(CheckpointTest, SavingAgainReplacesTheCheckpointAndLeavesNoPartialDirectory) {
  auto job = Job::Create(Spec(4), &World());
  ASSERT_TRUE(job.ok());
  Run(**job, 1);
  ASSERT_TRUE((*job)->SaveCheckpoint(dir_.File("ckpt")).ok());
  Run(**job, 2);
  ASSERT_TRUE((*job)->SaveCheckpoint(dir_.File("ckpt")).ok());
  std::ifstream meta(dir_.File("ckpt/zerod_checkpoint.json"));
  std::string text((std::istreambuf_iterator<char>(meta)), {});
  EXPECT_NE(text.find("\"step\": 2"), std::string::npos) << text;
  EXPECT_FALSE(std::ifstream(dir_.File("ckpt.partial/zerod_checkpoint.json")).good());
  EXPECT_FALSE(std::ifstream(dir_.File("ckpt.old/zerod_checkpoint.json")).good());
}

TEST_F(CheckpointTest, AFailedSaveKeepsThePreviousCheckpoint) {
  auto job = Job::Create(Spec(4), &World());
  ASSERT_TRUE(job.ok());
  Run(**job, 1);
  ASSERT_TRUE((*job)->SaveCheckpoint(dir_.File("ckpt")).ok());
  Run(**job, 2);
  // A file where the staging directory must go: the save fails before touching ckpt/.
  if (World().rank() == 0) {
    testing::WriteText(dir_.File("blocker"), "x");
  }
  (void)World().Barrier();
  EXPECT_FALSE((*job)->SaveCheckpoint(dir_.File("blocker/ckpt")).ok());
  std::ifstream meta(dir_.File("ckpt/zerod_checkpoint.json"));
  std::string text((std::istreambuf_iterator<char>(meta)), {});
  EXPECT_NE(text.find("\"step\": 1"), std::string::npos) << text;
}

TEST_F(CheckpointTest, ResumingPastTheStepCountIsRefusedWithBothNumbers) {
  auto job = Job::Create(Spec(3), &World());
  ASSERT_TRUE(job.ok()) << job.status();
  Run(**job, 3);
  ASSERT_TRUE((*job)->SaveCheckpoint(dir_.File("ckpt")).ok());
  JobSpec spec = Spec(2);
  spec.resume_from = dir_.File("ckpt");
  auto resumed = Job::Create(spec, &World());
  ASSERT_FALSE(resumed.ok());
  EXPECT_NE(resumed.status().message().find("is at step 3 and --steps is 2"), std::string::npos)
      << resumed.status();
}

// Each rank's state file records the CRC-32C of its data; one flipped byte (a NaN's worth)
// is found when the checkpoint loads, and the file is named as corrupt.
TEST_F(CheckpointTest, AFlippedByteIsRefusedNamingTheCorruptFile) {
  auto job = Job::Create(Spec(4), &World());
  ASSERT_TRUE(job.ok()) << job.status();
  Run(**job, 2);
  ASSERT_TRUE((*job)->SaveCheckpoint(dir_.File("ckpt")).ok());
  char name[64];
  std::snprintf(name, sizeof(name), "ckpt/rank_%05d_of_%05d.safetensors", World().world_size() - 1,
                World().world_size());
  if (World().rank() == 0) {
    std::fstream f(dir_.File(name), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-5, std::ios::end);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x40);
    f.seekp(-5, std::ios::end);
    f.write(&c, 1);
  }
  (void)World().Barrier();
  JobSpec spec = Spec(4);
  spec.resume_from = dir_.File("ckpt");
  auto resumed = Job::Create(spec, &World());
  ASSERT_FALSE(resumed.ok());
  EXPECT_NE(resumed.status().message().find(std::string(name).substr(5) + " is corrupt"),
            std::string::npos)
      << resumed.status();
}

// A save cut short inside its swap leaves the last complete checkpoint in DIR.old: resuming
// DIR is refused naming DIR.old, and resuming from DIR.old continues at its step.
TEST_F(CheckpointTest, ASaveCutShortInItsSwapPointsToTheLastCompleteCheckpoint) {
  auto job = Job::Create(Spec(4), &World());
  ASSERT_TRUE(job.ok()) << job.status();
  Run(**job, 2);
  ASSERT_TRUE((*job)->SaveCheckpoint(dir_.File("ckpt")).ok());
  if (World().rank() == 0) {
    ASSERT_EQ(std::rename(dir_.File("ckpt").c_str(), dir_.File("ckpt.old").c_str()), 0);
  }
  (void)World().Barrier();
  JobSpec spec = Spec(4);
  spec.resume_from = dir_.File("ckpt");
  auto refused = Job::Create(spec, &World());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(
      refused.status().message().find("the last complete checkpoint is " + dir_.File("ckpt.old")),
      std::string::npos)
      << refused.status();
  spec.resume_from = dir_.File("ckpt.old");
  auto resumed = Job::Create(spec, &World());
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ((*resumed)->steps_done(), 2);
}

TEST_F(CheckpointTest, ResumingAMissingCheckpointIsRefusedByName) {
  JobSpec spec = Spec(4);
  spec.resume_from = dir_.File("no-such-checkpoint");
  auto job = Job::Create(spec, &World());
  ASSERT_FALSE(job.ok());
  EXPECT_NE(job.status().message().find("resume_from"), std::string::npos) << job.status();
}

}  // namespace
}  // namespace zerod
