// zerod against transformers on the fixtures of tests/fixtures/models (every architecture
// and config variant zerod implements): logits, loss and gradient norm after one
// backward, one AdamW step, and the export round trip. Runs under mpirun at world sizes
// 1, 2 and 4: the engine shards each model over the world, so the comparison covers
// ZeRO-3's gather, release, re-gather and reduce-scatter, tied weights included.
#include "tests/support/hf_fixture.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "engine/config/ds_config.h"
#include "engine/models/checkpoint_reader.h"
#include "engine/models/registry.h"
#include "tests/support/test_env.h"
#include "engine/weights/export.h"
#include "engine/weights/model_weights.h"

namespace zerod::testing {
namespace {

double Relative(double got, double want) { return std::abs(got - want) / std::abs(want); }

// Every rank runs the whole batch; scaling each rank's loss by 1 / world makes the
// reduce-scattered sum the gradient of the batch loss. The loss is training's: the head's
// chunked cross-entropy (ForwardLosses), never the whole logits.
torch::Tensor BackwardOnce(zero::ZeroEngine& engine, const HfFixture& f) {
  const int64_t T = f.input_ids.size(1);
  torch::Tensor loss =
      engine.ForwardLosses(f.input_ids.narrow(1, 0, T - 1), f.input_ids.narrow(1, 1, T - 1)).mean();
  (loss / static_cast<double>(World().world_size())).backward();
  return loss.detach();
}

// On `device` over `comm` (the CPU world unless given).
void ExpectMatchesTransformers(const HfFixture& f, bool checkpointing,
                               comm::Communicator* comm = nullptr,
                               torch::Device device = torch::kCPU) {
  zero::EngineOptions opts;
  opts.persistence_threshold_numel = 0;  // release and re-gather every unit
  opts.activation_checkpointing = checkpointing;
  opts.device = device;
  auto engine = FixtureEngine(f, opts, comm);
  {
    torch::NoGradGuard no_grad;
    const torch::Tensor logits = engine->Forward(f.input_ids).cpu();
    const double diff = (logits - f.logits).abs().max().item<double>();
    EXPECT_LT(diff, 1e-4) << f.name << ": logits max abs difference";
    // The loss of the full logits, as transformers computes it.
    EXPECT_LT(Relative(ShiftedLoss(logits, f.input_ids).item<double>(), f.loss), 1e-5) << f.name;
    if (World().rank() == 0 && !checkpointing)
      std::printf("  %-34s logits max abs diff %.2e", f.name.c_str(), diff);
  }
  const double loss = BackwardOnce(*engine, f).item<double>();
  // lr 0: the step only reports the global gradient norm.
  auto step = engine->Step({.lr = 0.0, .weight_decay = 0.0}, 1.0, 0.0, false);
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_LT(Relative(loss, f.loss), 1e-5) << f.name << ": loss " << loss << " vs " << f.loss;
  EXPECT_LT(Relative(step->grad_norm, f.grad_norm), 1e-5)
      << f.name << ": grad norm " << step->grad_norm << " vs " << f.grad_norm;
  if (World().rank() == 0 && !checkpointing) {
    std::printf(" | loss rel %.1e | grad norm rel %.1e\n", Relative(loss, f.loss),
                Relative(step->grad_norm, f.grad_norm));
  }
}

TEST(HfFixtureTest, LogitsLossAndGradientNormMatchTransformers) {
  for (const std::string& name : HfFixtureNames()) {
    const HfFixture f = LoadHfFixture(name);
    ExpectMatchesTransformers(f, /*checkpointing=*/false);
  }
}

TEST(HfFixtureTest, GradientNormMatchesWithActivationCheckpointing) {
  for (const std::string& name : HfFixtureNames()) {
    const HfFixture f = LoadHfFixture(name);
    ExpectMatchesTransformers(f, /*checkpointing=*/true);
  }
}

// The GPU path (CUDA builds on a GPU host): NCCL, pinned offload, side streams, and the
// tied weight's gradient summed on the device before its reduce-scatter.
TEST(HfFixtureGpuTest, LogitsLossAndGradientNormMatchTransformersOnTheGpu) {
  if (GpuWorld() == nullptr) GTEST_SKIP() << "no GPU path in this build or host";
  const torch::Device gpu(torch::kCUDA, static_cast<c10::DeviceIndex>(World().local_rank()));
  for (const std::string& name : HfFixtureNames()) {
    const HfFixture f = LoadHfFixture(name);
    for (bool checkpointing : {false, true})
      ExpectMatchesTransformers(f, checkpointing, GpuWorld(), gpu);
  }
}

// The mixtures of experts with transformers' output_router_logits: the load-balancing
// loss over every sparse layer's router (all T tokens, as transformers computes it on the
// input_ids), the loss plus router_aux_loss_coef times it, and the gradient norm of that
// sum, through ZeRO-3's sharded backward with and without checkpointing.
void ExpectRouterAuxLossMatches(const HfFixture& f) {
  const std::string& name = f.name;
  const double coef = f.config.decoder()->moe.router_aux_loss_coef;
  {
    for (bool checkpointing : {false, true}) {
      zero::EngineOptions opts;
      opts.persistence_threshold_numel = 0;
      opts.activation_checkpointing = checkpointing;
      auto engine = FixtureEngine(f, opts);
      const torch::Tensor logits = engine->Forward(f.input_ids);
      const torch::Tensor aux = engine->TakeRouterAuxLoss();
      ASSERT_TRUE(aux.defined()) << name;
      const torch::Tensor loss = ShiftedLoss(logits, f.input_ids) + aux * coef;
      (loss / static_cast<double>(World().world_size())).backward();
      auto step = engine->Step({.lr = 0.0, .weight_decay = 0.0}, 1.0, 0.0, false);
      ASSERT_TRUE(step.ok()) << step.status();
      EXPECT_LT(Relative(aux.item<double>(), f.aux_loss), 1e-5) << name;
      EXPECT_LT(Relative(loss.item<double>(), f.loss_with_aux), 1e-5) << name;
      EXPECT_LT(Relative(step->grad_norm, f.grad_norm_with_aux), 1e-5)
          << name << ": grad norm " << step->grad_norm << " vs " << f.grad_norm_with_aux;
      if (World().rank() == 0 && !checkpointing) {
        std::printf("  %-34s aux loss rel %.1e | loss rel %.1e | grad norm rel %.1e\n",
                    name.c_str(), Relative(aux.item<double>(), f.aux_loss),
                    Relative(loss.item<double>(), f.loss_with_aux),
                    Relative(step->grad_norm, f.grad_norm_with_aux));
      }
    }
  }
}

TEST(HfFixtureTest, RouterAuxLossAndItsGradientMatchTransformers) {
  int compared = 0;
  for (const std::string& name : HfFixtureNames()) {
    const HfFixture f = LoadHfFixture(name);
    if (!f.routed) continue;
    ExpectRouterAuxLossMatches(f);
    ++compared;
  }
  EXPECT_EQ(compared, 5);
}

// ZeRO-3 at the experts' grain: a sparse layer's experts split into units of their own
// (one expert a unit, and groups of 3 that leave a shorter last one), each gathered,
// released and reduce-scattered alone: the same logits, losses and gradient norms.
TEST(HfFixtureTest, ExpertsInUnitsOfTheirOwnMatchTransformers) {
  for (const std::string& name : HfFixtureNames()) {
    HfFixture f = LoadHfFixture(name);
    if (!f.routed) continue;
    for (int64_t per_unit : {1, 3}) {
      std::get<models::DecoderConfig>(f.config.arch).moe.experts_per_unit = per_unit;
      const auto units = models::BuildUnits(f.config);
      const models::DecoderConfig& c = *f.config.decoder();
      size_t want = 2 + c.num_hidden_layers;
      for (int64_t i = 0; i < c.num_hidden_layers; ++i) want += c.ExpertUnits(i) - 1;
      ASSERT_EQ(units.size(), want) << name;
      ASSERT_GT(units.size(), 2u + c.num_hidden_layers) << name << ": nothing was split";
      SCOPED_TRACE(absl::StrCat(name, ", ", per_unit, " experts a unit"));
      ExpectMatchesTransformers(f, /*checkpointing=*/false);
      ExpectMatchesTransformers(f, /*checkpointing=*/true);
      ExpectRouterAuxLossMatches(f);
    }
  }
}

// Tolerance: |zerod - torch| <= 1e-6 + 1e-5 * |torch| for every element.
TEST(HfFixtureTest, OneStepEqualsTransformersWithTorchAdamW) {
  const config::DsConfig ds = config::LoadDsConfig(HfFixtureDsConfig(), 1).value();
  int compared = 0;
  for (const std::string& name : HfFixtureNames()) {
    const HfFixture f = LoadHfFixture(name);
    if (!f.has_adamw) continue;
    auto engine = FixtureEngine(f);
    BackwardOnce(*engine, f);
    ASSERT_TRUE(engine->Step(ds.adamw, 1.0, ds.gradient_clipping, false).ok());
    std::map<std::string, torch::Tensor> want;
    for (auto& [n, t] : ReadAllTensors(f.dir + "/after_adamw.safetensors")) want[n] = t;
    double worst = 0.0;
    size_t seen = 0;
    ForEachGatheredParam(*engine, [&](const std::string& n, const torch::Tensor& got) {
      ASSERT_TRUE(want.count(n)) << f.name << ": torch has no parameter " << n;
      ++seen;
      const torch::Tensor& w = want[n];
      const torch::Tensor excess = (got - w).abs() - (1e-6 + 1e-5 * w.abs());
      EXPECT_LE(excess.max().item<double>(), 0.0) << f.name << ": " << n;
      worst = std::max(worst, (got - w).abs().max().item<double>());
    });
    EXPECT_EQ(seen, want.size()) << f.name << ": parameter count differs from torch's";
    if (World().rank() == 0)
      std::printf("  %-34s after one AdamW step: max abs diff %.2e\n", f.name.c_str(), worst);
    ++compared;
  }
  EXPECT_GE(compared, 3);
}

// Train 3 steps, export, reload: identical logits, and the exported file holds exactly
// the tensors (names, shapes) transformers' save_pretrained wrote for the fixture.
TEST(HfFixtureTest, ExportRoundTripKeepsLogitsAndTransformersLayout) {
  for (const std::string& name : HfFixtureNames()) {
    const HfFixture f = LoadHfFixture(name);
    TempDir out;
    auto trained = FixtureEngine(f);
    for (int s = 0; s < 3; ++s) {
      BackwardOnce(*trained, f);
      ASSERT_TRUE(trained->Step({.lr = 1e-2}, 1.0, 1.0, false).ok());
    }
    std::unique_ptr<checkpoint::HfExportWriter> writer;
    if (World().rank() == 0) {
      writer = std::make_unique<checkpoint::HfExportWriter>(out.path(), weights::ExportPlan(*trained));
      ASSERT_TRUE(writer->Begin("{}").ok());
    }
    ASSERT_TRUE(weights::Export(*trained, writer.get()).ok());
    (void)World().Barrier();
    std::map<std::string, std::vector<int64_t>> exported, original;
    for (auto& [n, t] : ReadAllTensors(out.File("model.safetensors")))
      exported[n] = t.sizes().vec();
    for (auto& [n, t] : ReadAllTensors(f.dir + "/model.safetensors")) original[n] = t.sizes().vec();
    // A fused expert checkpoint comes back in the Hub's per-expert layout, which
    // save_pretrained writes: the same names as every other fixture's.
    if (!f.fused_layout) {
      EXPECT_EQ(exported, original) << name;
    } else {
      EXPECT_EQ(exported.count("model.layers.1.mlp.experts.3.gate_proj.weight"), 1u) << name;
      EXPECT_EQ(exported.count("model.layers.1.mlp.experts.gate_up_proj"), 0u) << name;
    }
    auto reader = models::CheckpointReader::Open(out.path());
    ASSERT_TRUE(reader.ok()) << reader.status();
    auto reloaded = zero::ZeroEngine::Create(models::BuildUnits(f.config), &World(), {}).value();
    ASSERT_TRUE(weights::LoadWeights(*reloaded, **reader).ok());
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(trained->Forward(f.input_ids), reloaded->Forward(f.input_ids)))
        << name;
  }
}

}  // namespace
}  // namespace zerod::testing
