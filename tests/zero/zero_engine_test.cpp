#include "engine/zero/zero_engine.h"

#include <gtest/gtest.h>

#include "engine/models/decoder.h"
#include "engine/models/hf_config.h"
#include "engine/plan/plan.h"
#include "engine/weights/model_weights.h"
#include "engine/zero/status_exception.h"
#include "tests/support/test_env.h"

namespace zerod::zero {
namespace {

using zerod::testing::World;

std::unique_ptr<ZeroEngine> MakeEngine(bool checkpointing, int64_t max_live = 1'000'000'000,
                                       int64_t prefetch = 1'000'000, bool optimizer_state = true) {
  auto config =
      models::ParseDecoderConfig(zerod::testing::TinyLlamaConfigJson(64, 32, 3), "tiny").value();
  EngineOptions opts;
  opts.optimizer_state = optimizer_state;
  opts.activation_checkpointing = checkpointing;
  opts.persistence_threshold_numel = 0;  // release every unit
  opts.max_live_numel = max_live;
  opts.prefetch_bucket_numel = prefetch;
  auto engine = ZeroEngine::Create(models::BuildDecoderUnits(config), &World(), opts).value();
  EXPECT_TRUE(weights::InitWeights(*engine, 5, 0.02).ok());
  return engine;
}

torch::Tensor Ids() { return torch::randint(0, 64, {2, 8}, torch::kInt64); }

TEST(ZeroEngineTest, NoGatheredParameterOutlivesForwardWithoutCheckpointing) {
  auto engine = MakeEngine(/*checkpointing=*/false);
  torch::Tensor logits = engine->Forward(Ids());
  // Autograd kept every unit's activations and its views of the weights, yet the
  // gathered weights themselves are gone (param_group.h, Note [storage swap]).
  EXPECT_EQ(engine->live_gathered_bytes(), 0);
  for (int i = 0; i < engine->num_units(); ++i) {
    for (const auto& p : engine->unit(i).params()) EXPECT_EQ(p.storage().nbytes(), 0u);
  }
  logits.sum().backward();
  EXPECT_EQ(engine->live_gathered_bytes(), 0);
  EXPECT_GT(engine->Memory().peak_gathered_bytes, 0);
}

TEST(ZeroEngineTest, AHookFailureInsideBackwardComesBackAsItsStatus) {
  // The hook's Status crosses autograd as an exception (Note [exceptions]) and the pass's
  // boundary gets it back with its code.
  auto engine = MakeEngine(/*checkpointing=*/false, 1'000'000'000, 1'000'000,
                           /*optimizer_state=*/false);
  absl::Status s = CatchToStatus(absl::StatusCode::kInternal, "step 1",
                                 [&] { engine->Forward(Ids()).sum().backward(); });
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_NE(s.message().find("forward only"), std::string::npos) << s;
  EXPECT_TRUE(engine->ReleaseAll().ok());
}

// Note [early update]: with the step's decision known, host units update during the
// backward with nothing saved; a step then abandoned cannot be undone, so the engine
// refuses its state from then on (a save or export would read it). Not decided, nothing is
// updated ahead and abandoning leaves the state as it was.
TEST(ZeroEngineTest, AnAbandonedEarlyUpdateRefusesTheStateAfterIt) {
  offload::AdamWHyper hyper;
  hyper.lr = 1e-3;
  for (bool decided : {false, true}) {
    auto engine = MakeEngine(/*checkpointing=*/false);  // every unit's state on the host
    engine->PrepareStep(hyper, 1.0, decided);
    engine->Forward(Ids()).sum().backward();
    ASSERT_TRUE(engine->ReleaseAll().ok());
    // The early updates made before the step is abandoned (one not yet started when it is
    // would be dropped unmade, and nothing would need undoing).
    if (decided) ASSERT_TRUE(engine->FinishUpdates().ok());
    const absl::Status abandoned = engine->AbandonStep();
    if (!decided) {
      EXPECT_TRUE(abandoned.ok()) << abandoned;
      EXPECT_TRUE(engine->FinishUpdates().ok());
      continue;
    }
    EXPECT_EQ(abandoned.code(), absl::StatusCode::kFailedPrecondition) << abandoned;
    EXPECT_NE(abandoned.message().find("resume from the last checkpoint"), std::string::npos)
        << abandoned;
    EXPECT_FALSE(engine->FinishUpdates().ok());
  }
}

// Every unit's state on the host, each with spare arrays for speculation when `speculate`.
std::unique_ptr<ZeroEngine> MakeSpeculatingEngine(bool speculate) {
  auto config =
      models::ParseDecoderConfig(zerod::testing::TinyLlamaConfigJson(64, 32, 3), "tiny").value();
  std::vector<std::unique_ptr<models::Unit>> units = models::BuildDecoderUnits(config);
  EngineOptions opts;
  opts.persistence_threshold_numel = 0;
  plan::UnitPlacement host;
  host.speculate = speculate;
  opts.placement.assign(units.size(), host);
  auto engine = ZeroEngine::Create(std::move(units), &World(), opts).value();
  EXPECT_TRUE(weights::InitWeights(*engine, 5, 0.02).ok());
  return engine;
}

// Note [speculative update]: each host unit's update made during the backward (the test
// waits for all of them before the decision), then dropped because the clip triggers,
// kept because it does not, or abandoned with the step, leaves bitwise the masters of
// the serial update (or of no update). After a dropped step the next does not speculate.
TEST(ZeroEngineTest, ASpeculationDroppedKeptOrAbandonedLeavesTheSerialState) {
  offload::AdamWHyper hyper;
  hyper.lr = 1e-2;
  struct Case {
    const char* what;
    double max_norm;
    bool abandon;
  };
  for (const Case& c :
       {Case{"dropped", 1e-3, false}, Case{"kept", 1e9, false}, Case{"abandoned", 1e9, true}}) {
    SCOPED_TRACE(c.what);
    auto serial = MakeSpeculatingEngine(false);
    auto speculating = MakeSpeculatingEngine(true);
    for (int step = 1; step <= 2; ++step) {
      torch::manual_seed(step);
      const torch::Tensor ids = Ids();
      for (ZeroEngine* e : {serial.get(), speculating.get()}) {
        e->PrepareStep(hyper, 1.0);
        e->Forward(ids).sum().backward();
        ASSERT_TRUE(e->ReleaseAll().ok());
        ASSERT_TRUE(e->FinishUpdates().ok());  // every speculation made before the decision
        if (c.abandon) {
          ASSERT_TRUE(e->AbandonStep().ok());
        } else {
          ASSERT_TRUE(e->Step(hyper, 1.0, c.max_norm, /*check_overflow=*/false).ok());
        }
        ASSERT_TRUE(e->FinishUpdates().ok());
      }
      const OptimizerTimes t = speculating->TakeOptimizerTimes();
      const bool dropped = std::string(c.what) == "dropped";
      EXPECT_EQ(t.speculated_units, dropped && step == 2 ? 0 : speculating->num_units())
          << "step " << step;
      EXPECT_EQ(t.undone_units, dropped || c.abandon ? t.speculated_units : 0) << "step " << step;
      EXPECT_EQ(serial->TakeOptimizerTimes().speculated_units, 0);
      for (int g = 0; g < serial->num_units(); ++g) {
        EXPECT_TRUE(torch::equal(serial->master(g), speculating->master(g)))
            << "unit " << g << ", step " << step;
      }
      if (c.abandon) break;  // (the job starts its next step afresh after an abandoned one)
    }
  }
}

TEST(ZeroEngineTest, NoGatheredParameterOutlivesForwardWithCheckpointing) {
  auto engine = MakeEngine(/*checkpointing=*/true);
  torch::Tensor logits = engine->Forward(Ids());
  EXPECT_EQ(engine->live_gathered_bytes(), 0);
  logits.sum().backward();
  EXPECT_EQ(engine->live_gathered_bytes(), 0);
}

TEST(ZeroEngineTest, GatheredBytesStayWithinMaxLiveParameters) {
  // Bound = the largest unit: prefetching may never add a second unit beside it.
  auto probe = MakeEngine(false);
  int64_t largest = 0;
  for (int i = 0; i < probe->num_units(); ++i)
    largest = std::max(largest, probe->group(i).partition().padded_numel);
  probe.reset();
  auto engine = MakeEngine(/*checkpointing=*/false, /*max_live=*/largest, /*prefetch=*/1'000'000);
  engine->Forward(Ids()).sum().backward();
  EXPECT_LE(engine->Memory().peak_gathered_bytes, largest * 4);
  // Without the bound, prefetching does gather several units at once.
  auto free_engine = MakeEngine(false);
  free_engine->Forward(Ids()).sum().backward();
  EXPECT_GT(free_engine->Memory().peak_gathered_bytes, largest * 4);
}

TEST(ZeroEngineTest, ShardsHoldAboutOneWorldthOfTheModel) {
  auto engine = MakeEngine(false);
  const MemoryStats m = engine->Memory();
  const int world = World().world_size();
  const int64_t total = m.total_param_numel;
  // Padding adds at most 8 elements per rank per unit.
  const int64_t slack = engine->num_units() * 8 * world;
  EXPECT_LE(std::abs(m.param_shard_bytes / 4 * world - total), slack);  // fp32 shards
  EXPECT_LE(std::abs(m.grad_shard_bytes / 4 * world - total), slack);
  EXPECT_LE(std::abs(m.optimizer_shard_bytes / 8 * world - total),
            slack);  // 2 moments (master = shard in fp32)
  EXPECT_EQ(m.gathered_bytes, 0);
}

TEST(ZeroEngineTest, ForwardOnlyEngineHoldsNoOptimizerStateAndBuildsNoGraph) {
  auto trained = MakeEngine(false);
  auto engine = MakeEngine(false, 1'000'000'000, 1'000'000, /*optimizer_state=*/false);
  const MemoryStats m = engine->Memory();
  EXPECT_EQ(m.grad_shard_bytes, 0);
  EXPECT_EQ(m.optimizer_shard_bytes, 0);
  EXPECT_EQ(m.param_shard_bytes, trained->Memory().param_shard_bytes);
  torch::Tensor ids = Ids();
  torch::Tensor want = trained->Forward(ids).detach();
  torch::NoGradGuard no_grad;
  torch::Tensor logits = engine->Forward(ids);
  EXPECT_FALSE(logits.requires_grad());
  EXPECT_TRUE(torch::equal(logits, want));
  EXPECT_EQ(engine->live_gathered_bytes(), 0);
  EXPECT_EQ(engine->Step({}, 1.0, 0.0, false).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace zerod::zero
