// The chunked head loss against the whole logits' cross-entropy: per-token losses and the
// gradients of h and the head's weight, over uneven vocabulary chunks, with and without
// final-logit soft-capping, in float32 and (loosely) bfloat16.
#include "engine/models/lm_loss.h"

#include <gtest/gtest.h>

#include "engine/models/chunking.h"

namespace zerod::models {
namespace {

struct Result {
  torch::Tensor loss, dh, dw;
};

Result LossAndGrads(const torch::Tensor& h0, const torch::Tensor& w0, const torch::Tensor& targets,
                    bool chunked, double softcap, int64_t columns) {
  torch::Tensor h = h0.detach().requires_grad_(true), w = w0.detach().requires_grad_(true);
  torch::Tensor loss =
      chunked ? LinearCrossEntropy(h, w, targets, softcap, columns)
              : TokenCrossEntropy(SoftCap(torch::nn::functional::linear(h, w), softcap), targets);
  torch::manual_seed(5);
  torch::Tensor g = torch::rand(loss.sizes());
  auto grads = torch::autograd::grad({(loss * g).sum()}, {h, w});
  return {loss.detach(), grads[0], grads[1]};
}

double MaxDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat32) - b.to(torch::kFloat32)).abs().max().item<double>();
}

TEST(LmLossTest, ChunkedEqualsTheWholeLogitsCrossEntropy) {
  torch::manual_seed(3);
  const torch::Tensor h = torch::randn({37, 16}), w = torch::randn({50, 16}) * 0.5;
  torch::Tensor targets = torch::randint(0, 50, {37}, torch::kInt64);
  targets[0] = 49, targets[1] = 0;  // both ends of the vocabulary
  for (double softcap : {0.0, 3.0}) {
    const Result want = LossAndGrads(h, w, targets, false, softcap, 0);
    for (int64_t columns : {1, 7, 50, 64}) {
      const Result got = LossAndGrads(h, w, targets, true, softcap, columns);
      const std::string what =
          "softcap " + std::to_string(softcap) + " columns " + std::to_string(columns);
      EXPECT_LT(MaxDiff(got.loss, want.loss), 2e-6) << what;
      EXPECT_LT(MaxDiff(got.dh, want.dh), 2e-6) << what;
      EXPECT_LT(MaxDiff(got.dw, want.dw), 2e-6) << what;
    }
  }
}

// Masked labels (kIgnoreIndex): loss 0 there and no gradient from there, the chunked loss
// as PyTorch's cross_entropy with ignore_index on the whole logits; other negatives are
// errors.
TEST(LmLossTest, IgnoredTargetsHaveZeroLossAndNoGradient) {
  torch::manual_seed(6);
  const torch::Tensor h = torch::randn({23, 16}), w = torch::randn({30, 16}) * 0.5;
  torch::Tensor targets = torch::randint(0, 30, {23}, torch::kInt64);
  const torch::Tensor ignored = torch::rand({23}) < 0.4;
  ignored[0] = true, ignored[22] = true;
  targets.masked_fill_(ignored, kIgnoreIndex);
  for (double softcap : {0.0, 3.0}) {
    const Result want = LossAndGrads(h, w, targets, false, softcap, 0);
    EXPECT_TRUE(torch::equal(want.loss.masked_select(ignored),
                             torch::zeros({ignored.sum().item<int64_t>()})));
    for (int64_t columns : {7, 30}) {
      const Result got = LossAndGrads(h, w, targets, true, softcap, columns);
      const std::string what =
          "softcap " + std::to_string(softcap) + " columns " + std::to_string(columns);
      EXPECT_TRUE(torch::equal(got.loss.masked_select(ignored),
                               torch::zeros({ignored.sum().item<int64_t>()})))
          << what;
      EXPECT_LT(MaxDiff(got.loss, want.loss), 2e-6) << what;
      EXPECT_LT(MaxDiff(got.dh, want.dh), 2e-6) << what;
      EXPECT_LT(MaxDiff(got.dw, want.dw), 2e-6) << what;
      EXPECT_EQ(got.dh.index({ignored}).abs().max().item<float>(), 0.0f) << what;
    }
  }
  torch::Tensor bad = targets.clone();
  bad[3] = -5;
  EXPECT_THROW(LinearCrossEntropy(h, w, bad), c10::Error);
}

TEST(LmLossTest, BFloat16StaysWithinItsRounding) {
  torch::manual_seed(4);
  const torch::Tensor h = torch::randn({20, 16}).to(torch::kBFloat16);
  const torch::Tensor w = (torch::randn({40, 16}) * 0.5).to(torch::kBFloat16);
  const torch::Tensor targets = torch::randint(0, 40, {20}, torch::kInt64);
  const Result want = LossAndGrads(h, w, targets, false, 0.0, 0),
               got = LossAndGrads(h, w, targets, true, 0.0, 9);
  EXPECT_EQ(got.dh.scalar_type(), torch::kBFloat16);
  EXPECT_LT(MaxDiff(got.loss, want.loss), 2e-2);
  EXPECT_LT(MaxDiff(got.dh, want.dh), 2e-2);
  EXPECT_LT(MaxDiff(got.dw, want.dw), 2e-2);
}

TEST(LmLossTest, ChunksKeepEachPieceSmall) {
  EXPECT_EQ(LogitChunkColumns(32, 128), 128);        // a tiny model: the whole vocabulary
  EXPECT_EQ(LogitChunkColumns(8192, 262208), 8192);  // Gemma 3 at 4 x 2048: 33 chunks
  EXPECT_LE(LogitChunkColumns(8192, 262208) * 8192, kPieceElements);
  EXPECT_EQ(LogitChunkColumns(1 << 20, 151936), 1024);  // never thinner than 1024 columns
}

TEST(LmLossTest, TargetsOutsideTheVocabularyAreRefused) {
  const torch::Tensor h = torch::randn({3, 4}), w = torch::randn({5, 4});
  EXPECT_THROW(LinearCrossEntropy(h, w, torch::tensor({0, 5, 1}, torch::kInt64)), c10::Error);
}

}  // namespace
}  // namespace zerod::models
