// engine/data/packer.h: best-fit decreasing rows, positions and labels at document
// boundaries, truncation and drop counts, epochs, the same global batch at world 1/2/4,
// one sample per row without packing, and the step as the whole resume state.
#include "engine/data/packer.h"

#include <gtest/gtest.h>

#include <set>

#include "engine/data/finetune_data.h"

namespace zerod::data {
namespace {

// A sample of `n` tokens with ids base, base + 1, ...; the first `prompt` are context only.
void AddSample(MemorySampleSet& s, int64_t n, int32_t base, int64_t prompt = 0) {
  std::vector<int32_t> tokens;
  std::vector<uint8_t> trained;
  for (int64_t i = 0; i < n; ++i) {
    tokens.push_back(base + static_cast<int32_t>(i));
    trained.push_back(i >= prompt ? 1 : 0);
  }
  s.Add(std::move(tokens), std::move(trained));
}

PackerConfig Config(int64_t seq_len, int64_t global, int64_t micro, int64_t accum, int world) {
  PackerConfig c;
  c.seq_len = seq_len;
  c.global_batch = global;
  c.micro_batch = micro;
  c.grad_accum = accum;
  c.world_size = world;
  c.seed = 7;
  return c;
}

TEST(PackerTest, BestFitDecreasingFillsTheFullestRowThatFits) {
  // Input positions (tokens - 1): 6, 5, 3, 2, 2 in rows of 8: 6 opens row 0, 5 row 1, 3 goes
  // to row 1 (free 3, the fullest that fits), 2 to row 0 (free 2), 2 opens row 2.
  MemorySampleSet s;
  for (int64_t n : {3, 7, 4, 6, 3}) AddSample(s, n, 100);
  auto rows = PackedRows::Create(&s, AllSamples(5), Config(8, 1, 1, 1, 1));
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->num_rows(), 3);
  EXPECT_EQ(rows->stats().input_tokens, 6 + 5 + 3 + 2 + 2);
  EXPECT_DOUBLE_EQ(rows->stats().fill(), 18.0 / 24.0);
  const PackedBatch b = rows->Rows({0, 1, 2});
  // Row 0: sample 1 (6 positions) + sample 0 (2): full. Row 1: sample 3 (5) + 2 (3): full.
  // Row 2: sample 4 (2) + padding (6).
  EXPECT_EQ(b.cu_seqlens, (std::vector<int32_t>{0, 6, 8, 13, 16, 18, 24}));
  EXPECT_EQ(b.max_seqlen, 6);
}

TEST(PackerTest, PositionsRestartAndLabelsStopAtEachDocument) {
  MemorySampleSet s;
  AddSample(s, 4, 10, /*prompt=*/2);  // tokens 10 11 | 12 13 trained
  AddSample(s, 3, 20);                // tokens 20 21 22, all trained (the first is no target)
  PackerConfig c = Config(6, 1, 1, 1, 1);
  auto rows = PackedRows::Create(&s, AllSamples(2), c);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->num_rows(), 1);
  const PackedBatch b = rows->Rows({0});
  // Longest first: sample 0 (3 positions), then sample 1 (2), then 1 padding position.
  EXPECT_EQ(b.inputs, (std::vector<int64_t>{10, 11, 12, 20, 21, 0}));
  EXPECT_EQ(b.positions, (std::vector<int64_t>{0, 1, 2, 0, 1, 0}));
  // 10 -> 11 is a prompt token: no label; 11 -> 12 and 12 -> 13 are; the last input of
  // sample 0 never predicts sample 1's first token.
  EXPECT_EQ(b.labels, (std::vector<int64_t>{-100, 12, 13, 21, 22, -100}));
  EXPECT_EQ(b.label_count, 4);
  EXPECT_EQ(rows->stats().labels, 4);
  EXPECT_EQ(b.cu_seqlens, (std::vector<int32_t>{0, 3, 5, 6}));
}

TEST(PackerTest, LongSamplesAreTruncatedOrDroppedAndCounted) {
  MemorySampleSet s;
  AddSample(s, 5, 0);   // seq_len + 1: fits exactly
  AddSample(s, 9, 50);  // too long
  AddSample(s, 1, 90);  // nothing to predict
  auto truncated = PackedRows::Create(&s, AllSamples(3), Config(4, 1, 1, 1, 1));
  ASSERT_TRUE(truncated.ok()) << truncated.status();
  EXPECT_EQ(truncated->stats().truncated, 1);
  EXPECT_EQ(truncated->stats().dropped, 0);
  EXPECT_EQ(truncated->stats().too_short, 1);
  EXPECT_EQ(truncated->stats().packed, 2);
  const PackedBatch t = truncated->Rows({0, 1});
  // The truncated sample keeps its first seq_len + 1 tokens: inputs 50..53, labels 51..54.
  bool found = false;
  for (int64_t r = 0; r < 2; ++r) {
    if (t.inputs[static_cast<size_t>(r * 4)] != 50) continue;
    found = true;
    EXPECT_EQ(t.labels[static_cast<size_t>(r * 4 + 3)], 54);
  }
  EXPECT_TRUE(found);

  PackerConfig drop = Config(4, 1, 1, 1, 1);
  drop.long_samples = LongSamples::kDrop;
  auto dropped = PackedRows::Create(&s, AllSamples(3), drop);
  ASSERT_TRUE(dropped.ok()) << dropped.status();
  EXPECT_EQ(dropped->stats().dropped, 1);
  EXPECT_EQ(dropped->stats().truncated, 0);
  EXPECT_EQ(dropped->num_rows(), 1);

  MemorySampleSet only_long;
  AddSample(only_long, 9, 0);
  EXPECT_FALSE(PackedRows::Create(&only_long, AllSamples(1), drop).ok());
}

TEST(PackerTest, WithoutPackingEachSampleIsARowOfItsOwn) {
  MemorySampleSet s;
  for (int i = 0; i < 5; ++i) AddSample(s, 2 + i, 10 * i);
  PackerConfig c = Config(8, 1, 1, 1, 1);
  c.packing = false;
  auto rows = PackedRows::Create(&s, AllSamples(5), c);
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ(rows->num_rows(), 5);
  const PackedBatch b = rows->Rows({3});
  EXPECT_EQ(b.cu_seqlens, (std::vector<int32_t>{0, 4, 8}));
  EXPECT_EQ(b.label_count, 4);
}

TEST(PackerTest, EachEpochVisitsEveryRowOnceInItsOwnOrderAndEndsWithEmptyRows) {
  MemorySampleSet s;
  PackerConfig c = Config(4, 4, 2, 1, 2);
  c.packing = false;
  for (int i = 0; i < 10; ++i) AddSample(s, 3, 10 * i);
  auto rows = PackedRows::Create(&s, AllSamples(10), c);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->steps_per_epoch(), 3);  // ceil(10 / 4)
  std::vector<int64_t> first, second;
  for (int64_t epoch = 0; epoch < 2; ++epoch) {
    std::set<int64_t> seen;
    std::vector<int64_t>& order = epoch == 0 ? first : second;
    for (int64_t step = epoch * 3; step < epoch * 3 + 3; ++step) {
      for (int64_t slot = 0; slot < 4; ++slot) {
        const int64_t row = rows->RowAt(step, slot);
        if (row < 0) continue;
        EXPECT_TRUE(seen.insert(row).second) << "row " << row << " twice in epoch " << epoch;
        order.push_back(row);
      }
    }
    EXPECT_EQ(seen.size(), 10u);
  }
  EXPECT_NE(first, second);
  // The last step of an epoch: two rows, two empty ones; its labels are the two rows'.
  EXPECT_EQ(rows->RowAt(2, 2), -1);
  EXPECT_EQ(rows->RowAt(2, 3), -1);
  EXPECT_EQ(rows->StepLabelCount(2), 2 * 2);
  const PackedBatch last = rows->GlobalBatch(2);
  EXPECT_EQ(last.label_count, 4);
  EXPECT_EQ(last.labels[static_cast<size_t>(3 * 4)], kIgnoreLabel);
}

TEST(PackerTest, TheGlobalBatchIsTheSameAtWorldSizes1And2And4) {
  MemorySampleSet s;
  for (int i = 0; i < 37; ++i) AddSample(s, 2 + (i * 7) % 11, 100 * i, i % 3);
  const auto one = PackedRows::Create(&s, AllSamples(37), Config(16, 8, 8, 1, 1));
  ASSERT_TRUE(one.ok()) << one.status();
  for (auto [micro, accum, world] : {std::tuple{4, 1, 2}, {1, 2, 4}, {2, 4, 1}, {1, 4, 2}}) {
    const auto many = PackedRows::Create(&s, AllSamples(37), Config(16, 8, micro, accum, world));
    ASSERT_TRUE(many.ok()) << many.status();
    for (int64_t step : {0, 1, 2, 5, 11}) {
      const PackedBatch global = one->GlobalBatch(step);
      // Micro-step m of rank r is slots [(m * world + r) * micro, ...): in that order the
      // ranks' micro-batches are the global batch.
      std::vector<int64_t> inputs, labels, positions;
      int64_t count = 0;
      for (int64_t m = 0; m < accum; ++m) {
        for (int r = 0; r < world; ++r) {
          const PackedBatch b = many->MicroBatch(step, m, r);
          inputs.insert(inputs.end(), b.inputs.begin(), b.inputs.end());
          labels.insert(labels.end(), b.labels.begin(), b.labels.end());
          positions.insert(positions.end(), b.positions.begin(), b.positions.end());
          count += b.label_count;
        }
      }
      EXPECT_EQ(inputs, global.inputs) << "step " << step << " world " << world;
      EXPECT_EQ(labels, global.labels);
      EXPECT_EQ(positions, global.positions);
      EXPECT_EQ(count, global.label_count);
      EXPECT_EQ(many->StepLabelCount(step), global.label_count);
    }
  }
}

TEST(PackerTest, AResumedJobSeesTheStepsAnUninterruptedOneWould) {
  MemorySampleSet s;
  for (int i = 0; i < 20; ++i) AddSample(s, 3 + i % 5, 10 * i);
  const PackerConfig c = Config(8, 2, 1, 2, 1);
  auto straight = PackedRows::Create(&s, AllSamples(20), c);
  ASSERT_TRUE(straight.ok());
  std::vector<PackedBatch> expected;
  for (int64_t step = 0; step < 12; ++step) expected.push_back(straight->GlobalBatch(step));
  // A fresh packer (a new process) asked for step 7 first, mid-epoch.
  auto resumed = PackedRows::Create(&s, AllSamples(20), c);
  ASSERT_TRUE(resumed.ok());
  for (int64_t step = 7; step < 12; ++step) {
    EXPECT_EQ(resumed->GlobalBatch(step).inputs, expected[static_cast<size_t>(step)].inputs);
    EXPECT_EQ(resumed->GlobalBatch(step).labels, expected[static_cast<size_t>(step)].labels);
  }
}

TEST(PackerTest, TheBatchSizesMustMultiplyOut) {
  MemorySampleSet s;
  AddSample(s, 4, 0);
  EXPECT_FALSE(PackedRows::Create(&s, AllSamples(1), Config(8, 5, 2, 1, 2)).ok());
}

TEST(PackerTest, TheHoldOutIsSeededDisjointAndAtLeastOneSample) {
  auto a = SplitSamples(100, 0.02, 1);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->eval.size(), 2u);
  EXPECT_EQ(a->train.size(), 98u);
  std::set<int64_t> all(a->train.begin(), a->train.end());
  for (int64_t i : a->eval) EXPECT_TRUE(all.insert(i).second);
  EXPECT_EQ(all.size(), 100u);
  auto again = SplitSamples(100, 0.02, 1);
  EXPECT_EQ(again->eval, a->eval);
  auto other = SplitSamples(100, 0.02, 2);
  EXPECT_NE(other->eval, a->eval);
  EXPECT_EQ(SplitSamples(10, 0.001, 1)->eval.size(), 1u);
  EXPECT_FALSE(SplitSamples(1, 0.5, 1).ok());
  EXPECT_FALSE(SplitSamples(10, 1.0, 1).ok());
}

TEST(FinetuneDataTest, EpochsMakeTheStepsAndTheHoldOutLeavesTraining) {
  auto samples = std::make_unique<MemorySampleSet>();
  for (int i = 0; i < 50; ++i) AddSample(*samples, 3, 10 * i);
  FinetuneConfig c;
  c.packer = Config(4, 4, 2, 2, 1);
  c.packer.packing = false;
  c.eval_split = 0.1;
  c.epochs = 3;
  c.steps = 10;  // overridden by the epochs
  auto d = FinetuneData::Create(std::move(samples), nullptr, c);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->train().num_rows(), 45);
  ASSERT_NE((*d)->eval(), nullptr);
  EXPECT_EQ((*d)->eval()->num_rows(), 5);
  EXPECT_EQ((*d)->train().steps_per_epoch(), 12);  // ceil(45 / 4)
  EXPECT_EQ((*d)->total_steps(), 36);
  const std::string summary = (*d)->Summary();
  EXPECT_NE(summary.find("Num examples = 45"), std::string::npos) << summary;
  EXPECT_NE(summary.find("Total optimization steps = 36"), std::string::npos) << summary;
  // The evaluation rows are in order, every pass the same.
  EXPECT_EQ((*d)->eval()->RowAt(0, 0), 0);
  EXPECT_EQ((*d)->eval()->RowAt(2, 0), 0);  // two batches a pass: step 2 starts the next
}

TEST(FinetuneDataTest, WithoutEpochsTheStepsSayHowLong) {
  auto samples = std::make_unique<MemorySampleSet>();
  for (int i = 0; i < 8; ++i) AddSample(*samples, 3, 10 * i);
  FinetuneConfig c;
  c.packer = Config(2, 2, 2, 1, 1);
  c.steps = 9;
  auto d = FinetuneData::Create(std::move(samples), nullptr, c);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ((*d)->total_steps(), 9);
  EXPECT_EQ((*d)->epochs(), 3);  // 4 steps per epoch
  EXPECT_EQ((*d)->eval(), nullptr);
}

}  // namespace
}  // namespace zerod::data
