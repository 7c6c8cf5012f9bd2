// Fine-tuning on samples (data/packer.h, train/job.cpp's Note [loss over the labels]), under
// mpirun at world sizes 1, 2 and 4: the losses are transformers' (sum over the labels / the
// step's label count) and the same at every world size, with and without gradient
// accumulation; the evaluation's figures come with the steps; save_best keeps the lowest;
// a step without a label is skipped.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "engine/checkpoint/checkpoint_dir.h"
#include "engine/data/sample_file.h"
#include "tests/support/plain_finetune.h"
#include "tests/support/test_env.h"

namespace zerod {
namespace {

using testing::TempDir;
using testing::World;

// 60 samples of 3 to 25 tokens (some longer than seq_len + 1 = 17: truncated), the first
// third of each a prompt (context only); `trained` false: no token is a label.
void WriteSamples(const std::string& path, bool trained = true) {
  if (World().rank() == 0) {
    auto writer = data::SampleFileWriter::Create(path, data::TokenDType::kUInt16, 64).value();
    for (int i = 0; i < 60; ++i) {
      const int n = 3 + (i * 7) % 23;
      std::vector<int32_t> tokens;
      std::vector<uint8_t> flags;
      for (int t = 0; t < n; ++t) {
        tokens.push_back((i * 5 + t * t + 3 * t) % 64);
        flags.push_back(trained && t >= n / 3 ? 1 : 0);
      }
      ASSERT_TRUE(writer->Add(tokens, flags).ok());
    }
    ASSERT_TRUE(writer->Finish().ok());
  }
  (void)World().Barrier();
}

// train_batch_size 8; micro-batches of `micro` rows (0: 8 / world, no accumulation).
JobSpec FinetuneJob(const TempDir& dir, int64_t micro, int64_t steps, bool trained = true,
                    const std::string& lr = "3e-3", const std::string& extra = "") {
  const std::string ds = R"({)" + extra + R"(
    "train_batch_size": 8, "train_micro_batch_size_per_gpu": "auto",
    "gradient_accumulation_steps": "auto",
    "optimizer": {"type": "AdamW", "params": {"lr": )" +
                         lr + R"(, "weight_decay": 0.0}},
    "zero_optimization": {"stage": 3, "stage3_param_persistence_threshold": 0,
                          "stage3_prefetch_bucket_size": 5000}})";
  JobSpec spec = testing::WriteTinyJob(dir, testing::TinyLlamaConfigJson(), ds, steps,
                                       /*seq_len=*/16, /*seed=*/5);
  spec.data_path = dir.File("samples.bin");
  WriteSamples(spec.data_path, trained);
  const int64_t m = micro > 0 ? micro : 8 / World().world_size();
  spec.micro_batch_size = m;
  spec.grad_accum = 8 / (m * World().world_size());
  return spec;
}

void ExpectTransformersLosses(int64_t micro) {
  TempDir dir;
  JobSpec spec = FinetuneJob(dir, micro, /*steps=*/1);
  spec.epochs = 2;  // 60 samples in fewer rows: a few steps an epoch; --steps is overridden
  const std::vector<double> want = testing::PlainFinetuneLosses(spec);
  auto job = Job::Create(spec, &World());
  ASSERT_TRUE(job.ok()) << job.status();
  ASSERT_EQ((*job)->info().total_steps, static_cast<int64_t>(want.size()));
  ASSERT_GE(want.size(), 4u);
  EXPECT_NE((*job)->info().data_summary.find("Num Epochs = 2"), std::string::npos)
      << (*job)->info().data_summary;
  for (size_t i = 0; i < want.size(); ++i) {
    auto m = (*job)->Step();
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_GT(m->label_tokens, 0);
    EXPECT_LT(std::abs(m->loss - want[i]) / want[i], 1e-5)
        << "step " << i + 1 << ": zerod " << m->loss << " plain " << want[i] << " (world "
        << World().world_size() << ", micro " << micro << ")";
  }
  // The second epoch (the same rows again) must score lower than the first for the
  // comparison to mean anything.
  const size_t half = want.size() / 2;
  double first = 0, second = 0;
  for (size_t i = 0; i < half; ++i) first += want[i], second += want[half + i];
  EXPECT_LT(second, first);
}

TEST(FinetuneTest, PackedLossesAreTransformersWithGradientAccumulation) {
  ExpectTransformersLosses(/*micro=*/1);  // 8, 4, 2 accumulation steps at world 1, 2, 4
}

TEST(FinetuneTest, PackedLossesAreTransformersWithoutGradientAccumulation) {
  ExpectTransformersLosses(/*micro=*/0);  // 8 / world rows, one micro-step
}

TEST(FinetuneTest, EvaluationFiguresComeWithTheStepsAndSaveBestKeepsTheLowest) {
  TempDir dir;
  JobSpec spec = FinetuneJob(dir, 1, /*steps=*/6);
  spec.eval_split = 0.1;
  spec.eval_every = 2;
  spec.save_dir = dir.File("out");
  spec.save_best = true;
  spec.save_every = 1;  // rotation at every step: the best must survive it
  spec.keep_checkpoints = 1;
  auto job = Job::Create(spec, &World());
  ASSERT_TRUE(job.ok()) << job.status();
  double best = std::numeric_limits<double>::infinity();
  int64_t best_step = 0;
  for (int64_t i = 1; i <= spec.steps; ++i) {
    auto m = (*job)->Step();
    ASSERT_TRUE(m.ok()) << m.status();
    if (i % 2 != 0) {
      EXPECT_EQ(m->eval_tokens, 0) << "step " << i;
      continue;
    }
    EXPECT_GT(m->eval_tokens, 0) << "step " << i;
    EXPECT_TRUE(std::isfinite(m->eval_loss));
    EXPECT_DOUBLE_EQ(m->eval_perplexity, std::exp(m->eval_loss));
    EXPECT_TRUE(m->checkpoint_error.empty()) << m->checkpoint_error;
    if (m->eval_loss < best) best = m->eval_loss, best_step = i;
  }
  (void)World().Barrier();
  EXPECT_TRUE(std::filesystem::exists(checkpoint::PeriodicCheckpointDir(spec.save_dir, best_step) +
                                      "/zerod_checkpoint.json"))
      << "best at step " << best_step;
}

TEST(FinetuneTest, TheBestCheckpointOutlivesTheRotationOfNewerOnes) {
  TempDir dir;
  // A constant rate this high makes the evaluation loss jump about (it rises at step 2):
  // the best is then older than the newest periodic checkpoint, the one keep_checkpoints 1
  // keeps.
  JobSpec spec = FinetuneJob(dir, 1, /*steps=*/8, true, /*lr=*/"0.1",
                             R"("scheduler": {"type": "WarmupLR", "params": {"warmup_min_lr": 0.1,
                                "warmup_max_lr": 0.1, "warmup_num_steps": 0}},)");
  spec.eval_split = 0.1;
  spec.eval_every = 1;
  spec.save_dir = dir.File("out");
  spec.save_best = true;
  spec.save_every = 1;
  spec.keep_checkpoints = 1;
  auto job = Job::Create(spec, &World());
  ASSERT_TRUE(job.ok()) << job.status();
  double best = std::numeric_limits<double>::infinity();
  int64_t best_step = 0;
  bool best_was_older = false;  // the rotation would have taken it
  for (int64_t i = 1; i <= spec.steps; ++i) {
    auto m = (*job)->Step();
    ASSERT_TRUE(m.ok()) << m.status();
    ASSERT_GT(m->eval_tokens, 0);
    if (m->eval_loss < best) best = m->eval_loss, best_step = i;
    (void)World().Barrier();
    // Left after step i: the best and the newest periodic checkpoint (the last step is not
    // saved periodically, the job's final save covers it, but a best there is saved).
    const int64_t newest = i < spec.steps || best_step == i ? i : i - 1;
    std::vector<std::string> want = {checkpoint::PeriodicCheckpointDir(spec.save_dir, best_step)};
    if (newest != best_step) {
      want.push_back(checkpoint::PeriodicCheckpointDir(spec.save_dir, newest));
      best_was_older = true;
    }
    std::sort(want.begin(), want.end());
    EXPECT_EQ(checkpoint::PeriodicCheckpointDirs(spec.save_dir), want) << "after step " << i;
  }
  EXPECT_TRUE(best_was_older) << "the evaluation loss must rise for this to test";
}

TEST(FinetuneTest, AStepWithoutALabelIsSkippedAndSaysSo) {
  TempDir dir;
  JobSpec spec = FinetuneJob(dir, 1, /*steps=*/2, /*trained=*/false);
  auto job = Job::Create(spec, &World());
  ASSERT_TRUE(job.ok()) << job.status();
  for (int i = 0; i < 2; ++i) {
    auto m = (*job)->Step();
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_TRUE(m->no_labels);
    EXPECT_TRUE(m->skipped);
    EXPECT_EQ(m->loss, 0.0);
    EXPECT_TRUE(std::isfinite(m->loss));
  }
  EXPECT_EQ((*job)->steps_done(), 2);
}

}  // namespace
}  // namespace zerod
