#include "engine/zero/param_group.h"

#include <gtest/gtest.h>

#include "engine/models/decoder.h"
#include "engine/models/hf_config.h"
#include "tests/support/test_env.h"

namespace zerod::zero {
namespace {

using zerod::testing::World;

models::DecoderConfig TinyConfig() {
  return models::ParseDecoderConfig(zerod::testing::TinyLlamaConfigJson(), "tiny").value();
}

// Unit 1 of the tiny model (a decoder block) as a ParamGroup with its initial values.
struct Fixture {
  std::vector<std::unique_ptr<models::Unit>> units = models::BuildDecoderUnits(TinyConfig());
  models::Unit& unit = *units[1];
  torch::Tensor values = models::InitialValues(unit, 42, 0.02);
  DeviceStreams streams{torch::kCPU};
  offload::PinnedPool pool{{.pin = false}};
  ParamGroup group{&unit, &World(), &streams, &pool, torch::kFloat32};
  Fixture() {
    // This rank's slice of the unit's values, zero-padded.
    const plan::Partition& p = group.partition();
    const int64_t valid = p.ShardValidNumel(World().rank());
    group.shard().zero_();
    if (valid > 0)
      group.shard()
          .narrow(0, 0, valid)
          .copy_(values.narrow(0, p.ShardBegin(World().rank()), valid));
  }
};

TEST(ParamGroupTest, FetchGathersEveryRanksShardIntoTheParameters) {
  Fixture f;
  ASSERT_TRUE(f.group.StartFetch().ok());
  ASSERT_TRUE(f.group.WaitFetch().ok());
  EXPECT_EQ(f.group.state(), GroupState::kGathered);
  int64_t offset = 0;
  for (const torch::Tensor& p : f.unit.params()) {
    EXPECT_TRUE(torch::equal(p.reshape({-1}), f.values.narrow(0, offset, p.numel())));
    offset += p.numel();
  }
  EXPECT_EQ(offset, f.unit.numel());
}

TEST(ParamGroupTest, ReleaseFreesTheGatheredStorageInPlace) {
  Fixture f;
  ASSERT_TRUE(f.group.StartFetch().ok());
  ASSERT_TRUE(f.group.WaitFetch().ok());
  EXPECT_GT(f.group.gathered_bytes(), 0);
  ASSERT_TRUE(f.group.Release().ok());
  EXPECT_EQ(f.group.state(), GroupState::kSharded);
  EXPECT_EQ(f.group.gathered_bytes(), 0);
  for (const torch::Tensor& p : f.unit.params()) EXPECT_EQ(p.storage().nbytes(), 0u);
}

TEST(ParamGroupTest, TransitionsAreIdempotent) {
  Fixture f;
  EXPECT_TRUE(f.group.Release().ok());  // already sharded
  ASSERT_TRUE(f.group.StartFetch().ok());
  EXPECT_TRUE(f.group.StartFetch().ok());  // already fetching: no second gather
  ASSERT_TRUE(f.group.WaitFetch().ok());
  EXPECT_TRUE(f.group.WaitFetch().ok());  // already gathered
  EXPECT_TRUE(f.group.StartFetch().ok());
  EXPECT_EQ(f.group.state(), GroupState::kGathered);
  ASSERT_TRUE(f.group.Release().ok());
  EXPECT_TRUE(f.group.Release().ok());
}

TEST(ParamGroupTest, IllegalTransitionsAreRejectedAndChangeNothing) {
  Fixture f;
  absl::Status wait = f.group.WaitFetch();
  EXPECT_EQ(wait.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(f.group.state(), GroupState::kSharded);
  ASSERT_TRUE(f.group.StartFetch().ok());
  absl::Status release = f.group.Release();
  EXPECT_EQ(release.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(f.group.state(), GroupState::kGathering);
  EXPECT_TRUE(f.group.WaitFetch().ok());
  EXPECT_TRUE(f.group.Release().ok());
}

// Note [storage swap]: what autograd saved in forward (here a view, weight.t(), inside
// linear) must see the re-gathered values, and releasing must free the memory.
TEST(ParamGroupTest, BackwardAfterReleaseAndRefetchGivesExactGradients) {
  Fixture f;
  torch::Tensor x = torch::randn({3, 5, 32}).requires_grad_(true);
  auto plain_units = models::BuildDecoderUnits(TinyConfig());
  models::Unit& plain_unit = *plain_units[1];
  models::BindPlain(plain_unit, f.values, torch::kFloat32);
  torch::Tensor expected = plain_unit.Forward(x).sum();
  auto want = torch::autograd::grad({expected}, plain_unit.params());

  ASSERT_TRUE(f.group.StartFetch().ok());
  ASSERT_TRUE(f.group.WaitFetch().ok());
  torch::Tensor y = f.unit.Forward(x).sum();
  ASSERT_TRUE(f.group.Release().ok());
  for (const torch::Tensor& p : f.unit.params()) EXPECT_EQ(p.storage().nbytes(), 0u);
  ASSERT_TRUE(f.group.StartFetch().ok());
  ASSERT_TRUE(f.group.WaitFetch().ok());
  auto got = torch::autograd::grad({y}, f.unit.params());
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_TRUE(torch::allclose(got[i], want[i], 1e-6, 1e-7)) << i;
}

TEST(ParamGroupTest, ReduceScatterSumsGradientsIntoThisRanksShard) {
  Fixture f;
  std::vector<torch::Tensor> grads;
  for (const auto& e : f.group.layout().entries) grads.push_back(torch::ones(e.shape));
  grads[1] = torch::Tensor();  // an unused parameter counts as zero
  auto reduced = f.group.StartReduceScatter(grads);
  ASSERT_TRUE(reduced.ok()) << reduced.status();
  ASSERT_TRUE(reduced->work->Wait().ok());
  torch::Tensor out = reduced->shard;
  const auto& p = f.group.partition();
  const int64_t begin = p.ShardBegin(World().rank());
  const auto& skip = f.group.layout().entries[1];
  for (int64_t i = 0; i < p.shard_numel; ++i) {
    const int64_t flat = begin + i;
    const bool real = flat < p.numel && !(flat >= skip.offset && flat < skip.offset + skip.numel);
    EXPECT_EQ(out[i].item<float>(), real ? World().world_size() : 0.0f) << flat;
  }
}

// Gradients that lie one after another in one storage, for consecutive flat entries, are
// copied as one run; the rest (apart, out of order, unused) one by one or not at all.
TEST(ParamGroupTest, AdjacentGradientsAreCopiedAsOneRun) {
  const plan::FlatLayout layout =
      plan::MakeFlatLayout({{"a", {2, 3}}, {"b", {2, 3}}, {"c", {4}}, {"d", {5}}, {"e", {2}}});
  const torch::Tensor one = torch::arange(16, torch::kFloat32);  // a, b, c together
  std::vector<torch::Tensor> grads = {one.narrow(0, 0, 6).view({2, 3}),
                                      one.narrow(0, 6, 6).view({2, 3}), one.narrow(0, 12, 4),
                                      torch::Tensor(), torch::ones({2})};
  const std::vector<GradRun> runs = GradRuns(layout, grads);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].offset, 0);
  EXPECT_EQ(runs[0].numel, 16);
  EXPECT_TRUE(torch::equal(runs[0].values, one));
  EXPECT_EQ(runs[1].offset, 21);  // d is unused: no run
  EXPECT_TRUE(torch::equal(runs[1].values, torch::ones({2})));
  grads[1] = one.narrow(0, 6, 6).view({2, 3}).clone();  // b apart: three runs
  EXPECT_EQ(GradRuns(layout, grads).size(), 4u);
}

}  // namespace
}  // namespace zerod::zero
