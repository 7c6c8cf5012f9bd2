// The placement plan's arithmetic, refusals and DeepSpeed keys, with no torch: Llama
// shapes are written out as unit sizes the way BuildUnits splits them (embedding, one
// unit per layer, final norm + head).
#include "engine/plan/plan.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "engine/config/ds_config.h"
#include "engine/plan/job_request.h"
#include "engine/plan/memory_model.h"
#include "engine/plan/plan_report.h"
#include "engine/plan/step_cost.h"
#include "nlohmann/json.hpp"

namespace zerod::plan {
namespace {

constexpr int64_t kGiB = int64_t{1} << 30;

struct Llama {
  int64_t hidden, layers, ffn, vocab = 32000;
};
constexpr Llama k7B{4096, 32, 11008};
constexpr Llama k13B{5120, 40, 13824};

Request LlamaRequest(const Llama& m, int world = 1) {
  Request r;
  r.units.push_back({"model.embed_tokens", m.vocab * m.hidden, {}});
  for (int i = 0; i < m.layers; ++i) {
    r.units.push_back({"model.layers." + std::to_string(i),
                       4 * m.hidden * m.hidden + 3 * m.hidden * m.ffn + 2 * m.hidden,
                       {},
                       i});
  }
  r.units.push_back({"model.norm", m.hidden + m.vocab * m.hidden, {}});
  r.shape = {m.layers, m.hidden, m.ffn, m.hidden, m.hidden, m.vocab, true};
  r.world_size = world;
  r.micro_batch = 4;
  r.seq_len = 2048;
  r.activation_checkpointing = Checkpointing::kOn;
  r.gpu = true;
  r.gpu_bytes = 141 * kGiB;
  r.host_bytes = 128 * kGiB;
  r.prefetch_bucket_numel = 500'000'000;
  r.persistence_threshold_numel = 1'000'000;
  return r;
}

Request Auto(Request r) {
  r.offload_param = Choice::kAuto;
  r.optimizer_ratio.reset();
  return r;
}

TEST(ParseByteSizeTest, BinaryAndDecimalUnits) {
  EXPECT_EQ(*ParseByteSize("141GiB", "--gpu-memory"), 141 * kGiB);
  EXPECT_EQ(*ParseByteSize("128gb", "--host-memory"), 128'000'000'000);
  EXPECT_EQ(*ParseByteSize("64g", "x"), 64 * kGiB);
  EXPECT_EQ(*ParseByteSize("1.5 TiB", "x"), 1536 * kGiB);
  EXPECT_EQ(*ParseByteSize("4096", "x"), 4096);
  auto bad = ParseByteSize("lots", "--gpu-memory");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("--gpu-memory \"lots\""), std::string::npos);
  EXPECT_FALSE(ParseByteSize("-3GiB", "x").ok());
  EXPECT_FALSE(ParseByteSize("12 parsecs", "x").ok());
}

TEST(PlanTest, SeedConfigPutsEveryShardOnTheHostAndHoldsGradientsOnTheGpu) {
  auto plan = MakePlan(LlamaRequest(k7B));  // offload_param cpu, ratio 1 (the defaults)
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE(plan->fits) << plan->shortfall;
  EXPECT_DOUBLE_EQ(plan->optimizer_ratio, 1.0);
  for (const UnitPlacement& u : plan->units) {
    EXPECT_EQ(u.params, Where::kHost) << u.name;
    EXPECT_EQ(u.optimizer, Where::kHost) << u.name;
    EXPECT_EQ(u.gradients, Where::kDevice) << u.name;  // the GPU has room: host RSS stays low
  }
  // 12 bytes of optimizer state and 2 of bf16 shard per parameter on the host; 2 bytes of
  // held bf16 gradient per parameter on the GPU; no model-sized float32 gradient anywhere.
  const int64_t n = plan->total_param_numel;
  EXPECT_NEAR(plan->host.optimizer, 12 * n, 12 * 1e6);
  EXPECT_NEAR(plan->host.params, 2 * n, 2 * 1e6);
  EXPECT_EQ(plan->host.gradients, 0);
  EXPECT_NEAR(plan->gpu.gradients, 2 * n, 2 * 1e6);
  EXPECT_LT(plan->host.Total(), 100 * kGiB);
}

TEST(PlanTest, AutoKeepsA7BModelWhollyOnTheGpu) {
  auto plan = MakePlan(Auto(LlamaRequest(k7B)));
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->fits);
  EXPECT_DOUBLE_EQ(plan->optimizer_ratio, 0.0);
  for (const UnitPlacement& u : plan->units) {
    EXPECT_EQ(u.params, Where::kDevice);
    EXPECT_EQ(u.optimizer, Where::kDevice);
  }
  EXPECT_LT(plan->host.Total(), 4 * kGiB);
}

TEST(PlanTest, AutoSplits13BAcrossGpuAndHostWithTheFewestHostUnits) {
  const Request r = Auto(LlamaRequest(k13B));
  auto plan = MakePlan(r);
  ASSERT_TRUE(plan.ok());
  ASSERT_TRUE(plan->fits) << plan->shortfall;
  EXPECT_GT(plan->optimizer_ratio, 0.05);
  EXPECT_LT(plan->optimizer_ratio, 0.6);
  EXPECT_LE(plan->gpu.Total(), plan->gpu_usable);
  EXPECT_LE(plan->host.Total(), plan->host_usable);
  // Host-updated units are the last ones in forward order.
  int host_units = 0;
  for (const UnitPlacement& u : plan->units) host_units += u.optimizer == Where::kHost;
  const int n = static_cast<int>(plan->units.size());
  for (int i = 0; i < n; ++i)
    EXPECT_EQ(plan->units[i].optimizer == Where::kHost, i >= n - host_units) << i;
  // One unit fewer on the host does not fit, whatever the parameters' and gradients' place.
  Request fewer = r;
  int64_t total = 0, suffix = 0;
  for (const UnitPlacement& u : plan->units) total += u.shard_numel;
  for (int i = n - host_units + 1; i < n; ++i) suffix += plan->units[i].shard_numel;
  fewer.optimizer_ratio = static_cast<double>(suffix) / total;
  EXPECT_FALSE(MakePlan(fewer)->fits);
}

// Note [speculative update]: the host memory a fitting placement leaves buys saved state
// (12 bytes per element) for the host-updated units that come first in the backward, the
// last in forward order; the placement itself does not change for it.
TEST(PlanTest, SpareHostMemoryGoesToSpeculationForTheLastHostUnits) {
  Request r = Auto(LlamaRequest(k13B));
  r.speculative_update = false;
  const Plan without = *MakePlan(r);
  r.speculative_update = true;
  const Plan with = *MakePlan(r);
  ASSERT_TRUE(with.fits);
  EXPECT_EQ(without.speculating_units, 0);
  EXPECT_GT(with.speculating_units, 0);
  EXPECT_LE(with.host.Total(), with.host_usable);
  int64_t saved = 0;
  const int n = static_cast<int>(with.units.size());
  for (int i = 0; i < n; ++i) {
    const UnitPlacement& u = with.units[i];
    EXPECT_EQ(u.optimizer, without.units[i].optimizer) << u.name;
    EXPECT_EQ(u.params, without.units[i].params) << u.name;
    EXPECT_EQ(u.speculate, i >= n - with.speculating_units) << u.name;
    if (u.speculate) {
      EXPECT_EQ(u.optimizer, Where::kHost) << u.name;
      saved += 12 * u.shard_numel;
    }
  }
  EXPECT_EQ(with.host.optimizer - without.host.optimizer, saved);
  // With the host's memory only just enough for the placement, nothing speculates.
  Request tight = r;
  tight.host_bytes = 40 * kGiB;
  const Plan tight_plan = *MakePlan(tight);
  if (tight_plan.fits) {
    EXPECT_LT(tight_plan.speculating_units, with.speculating_units);
  }
}

TEST(PlanTest, SeedConfigRefuses13BNamingHostMemoryAndTheAutoRemedy) {
  auto plan = MakePlan(LlamaRequest(k13B));
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->fits);
  EXPECT_NE(plan->shortfall.find("host memory needs"), std::string::npos) << plan->shortfall;
  EXPECT_NE(plan->shortfall.find("short by"), std::string::npos);
  EXPECT_NE(plan->shortfall.find("\"auto\""), std::string::npos) << plan->shortfall;
}

TEST(PlanTest, AModelTooLargeForOneGpuSuggestsMoreRanks) {
  Request r = Auto(LlamaRequest({8192, 80, 28672}));  // a 70B shape
  auto plan = MakePlan(r);
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->fits);
  EXPECT_NE(plan->shortfall.find("ranks"), std::string::npos) << plan->shortfall;
  // Sharded over enough ranks it fits, and each rank holds about 1/world of the state.
  r.world_size = 16;
  auto wide = MakePlan(r);
  ASSERT_TRUE(wide.ok());
  EXPECT_TRUE(wide->fits) << wide->shortfall;
}

// A 30B shape on 2 x 141 GiB GPUs + 256 GiB: micro-batch 4 is a little short, and keeping
// the batch by accumulation would hold float32 gradients, which costs more than the
// activations it saves. The remedy offered is the one that fits: micro-batch 1 alone.
// (With 16-bit shards kept: derived ones make micro-batch 4 fit.)
TEST(PlanTest, TheMicroBatchRemedyIsOfferedOnlyAsItFits) {
  Request r = Auto(LlamaRequest({6656, 60, 17920}, 2));
  r.derived_weights = false;
  r.derived_host_weights = false;
  r.ranks_per_host = 2;
  r.host_bytes = 256 * kGiB;
  auto plan = MakePlan(r);
  ASSERT_TRUE(plan.ok());
  ASSERT_FALSE(plan->fits);
  EXPECT_EQ(plan->shortfall.find("keeps the batch"), std::string::npos) << plan->shortfall;
  EXPECT_NE(plan->shortfall.find("train_micro_batch_size_per_gpu 1 (a batch 4 times smaller"),
            std::string::npos)
      << plan->shortfall;
  r.micro_batch = 1;
  EXPECT_TRUE(MakePlan(r)->fits);
  r.grad_accum = 4;
  EXPECT_FALSE(MakePlan(r)->fits);
}

TEST(PlanTest, ExplicitRatioPicksTheClosestSuffixOfUnits) {
  Request r = LlamaRequest(k7B);
  r.offload_param = Choice::kNone;
  r.optimizer_ratio = 0.5;
  auto plan = MakePlan(r);
  ASSERT_TRUE(plan.ok());
  EXPECT_NEAR(plan->optimizer_ratio, 0.5, 0.03);
  EXPECT_EQ(plan->units.front().optimizer, Where::kDevice);
  EXPECT_EQ(plan->units.back().optimizer, Where::kHost);
  for (const UnitPlacement& u : plan->units) EXPECT_EQ(u.params, Where::kDevice);
  r.optimizer_ratio = 0.0;
  EXPECT_DOUBLE_EQ(MakePlan(r)->optimizer_ratio, 0.0);
}

TEST(PlanTest, ShardsShrinkWithTheWorldSize) {
  auto one = MakePlan(LlamaRequest(k7B, 1));
  auto two = MakePlan(LlamaRequest(k7B, 2));
  ASSERT_TRUE(one.ok() && two.ok());
  EXPECT_NEAR(static_cast<double>(two->host.optimizer) / one->host.optimizer, 0.5, 1e-4);
  EXPECT_NEAR(static_cast<double>(two->host.params) / one->host.params, 0.5, 1e-4);
  EXPECT_EQ(two->gpu.activations, one->gpu.activations);  // per micro-batch, not sharded
}

TEST(PlanTest, RefusesInputNoPlanCanBeMadeOf) {
  Request r = LlamaRequest(k7B);
  r.optimizer_ratio = 1.5;
  auto bad = MakePlan(r);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("offload_optimizer.ratio"), std::string::npos);
  EXPECT_FALSE(MakePlan(Request{}).ok());
  r = LlamaRequest(k7B);
  r.world_size = 0;
  EXPECT_FALSE(MakePlan(r).ok());
}

TEST(PlanTest, OnTheCpuEverythingIsHostMemory) {
  Request r = LlamaRequest({64, 2, 128, 100});
  r.gpu = false;
  r.compute_dtype = r.reduce_dtype = DType::kFloat32;
  auto plan = MakePlan(r);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->gpu.Total(), 0);
  EXPECT_TRUE(plan->fits);
  EXPECT_GT(plan->host.activations, 0);
  // float32 on the CPU: the shard is the master (8 bytes of moments per parameter).
  EXPECT_NEAR(plan->host.optimizer, 8 * plan->total_param_numel, 8 * 64);
}

TEST(MemoryModelTest, GatheredPeakFollowsThePrefetchBucket) {
  Request r;
  for (int i = 0; i < 5; ++i) r.units.push_back({"u" + std::to_string(i), 100, {}});
  r.compute_dtype = DType::kBFloat16;
  r.persistence_threshold_numel = 0;
  const std::vector<int64_t> padded(5, 100);
  r.prefetch_bucket_numel = 0;  // no prefetch: one unit at a time
  EXPECT_EQ(GatheredPeakBytes(r, padded), 100 * 2);
  // Each fetch prefetches up to 250 elements of units not yet in flight (two), and what it
  // prefetched earlier is still gathered: the current unit, the one fetched last time and
  // two new ones.
  r.prefetch_bucket_numel = 250;
  EXPECT_EQ(GatheredPeakBytes(r, padded), 400 * 2);
  r.max_live_numel = 200;  // the live bound wins
  EXPECT_EQ(GatheredPeakBytes(r, padded), 200 * 2);
  // A tied head gathers the embedding beside itself.
  r.prefetch_bucket_numel = 0;
  r.max_live_numel = 1'000'000;
  r.units.back().reads = {0};
  EXPECT_EQ(GatheredPeakBytes(r, padded), 200 * 2);
}

TEST(MemoryModelTest, CheckpointingKeepsOnlyEachLayersInput) {
  Request r = LlamaRequest(k7B);
  r.activation_checkpointing = Checkpointing::kOff;
  const int64_t full = ActivationBytes(r);
  r.activation_checkpointing = Checkpointing::kOn;
  const int64_t ckpt = ActivationBytes(r);
  EXPECT_LT(ckpt * 4, full);
  // 32 layer inputs of 4 x 2048 x 4096 bf16 are part of it.
  EXPECT_GT(ckpt, 32 * int64_t{4} * 2048 * 4096 * 2);
  // A quarter of the tokens: the layer inputs shrink fourfold; the head's chunked logits
  // (one piece of columns, models/chunking.h) stay about the same.
  r.micro_batch = 1;
  EXPECT_LT(ActivationBytes(r) * 2, ckpt);
}

// The head's logits are computed a chunk of vocabulary columns at a time
// (models/lm_loss.h): a 262k vocabulary costs the activations no more than Llama's 32k.
TEST(MemoryModelTest, TheLogitsAreCountedAChunkAtATime) {
  Request r = LlamaRequest(k7B);
  r.activation_checkpointing = Checkpointing::kOff;
  const int64_t llama = ActivationBytes(r);
  r.shape.vocab = 262208;
  EXPECT_EQ(ActivationBytes(r), llama);
  // Whole float32 logits of 4 x 2048 tokens would be 8.6 GB alone.
  EXPECT_LT(ActivationBytes(r), llama + int64_t{4} * 2048 * 262208 * 4 / 10);
}

// Each family's additions to Llama's block: q/k norms, Gemma's four norms, soft-capped
// attention's repeated k/v and one query block of scores, smaller under a window.
TEST(MemoryModelTest, EachFamilysActivationsAreCounted) {
  Request r = LlamaRequest(k7B);
  r.activation_checkpointing = Checkpointing::kOff;
  r.shape.heads = 32;
  const int64_t llama = ActivationBytes(r);
  const int64_t S = int64_t{4} * 2048;
  Request qk = r;
  qk.shape.qk_norm_width = 2 * 4096;
  EXPECT_EQ(ActivationBytes(qk) - llama, 32 * S * 2 * 4096 * (4 + 2 * 2));
  Request gemma = r;
  gemma.shape.block_norms = 4;
  EXPECT_EQ(ActivationBytes(gemma) - llama, 32 * S * 2 * 4096 * (4 + 2 * 2));
  Request capped = r;
  capped.shape.softcap_attention = true;
  const int64_t with_cap = ActivationBytes(capped);
  EXPECT_GT(with_cap, llama + 32 * S * 4 * 32);
  // A window shortens each block's keys; the blocks grow to fill the same piece.
  capped.shape.window = 512;
  EXPECT_LE(ActivationBytes(capped), with_cap);
  // Checkpointed, a recomputed layer's scores come on top of its half working set.
  capped.activation_checkpointing = Checkpointing::kOn;
  capped.shape.window = 0;
  r.activation_checkpointing = Checkpointing::kOn;
  EXPECT_GT(ActivationBytes(capped), ActivationBytes(r));
}

// Qwen3-30B-A3B as BuildUnits splits it (decoder_config.h ExpertUnits: 604M of experts a
// layer in 3 units of at most 250M): the embedding, per layer its attention, router and
// first 42 experts, then two units of 43, and the head.
Request Qwen3MoeRequest(int layers, int world) {
  const int64_t H = 2048, F = 768, E = 128, V = 151936;
  const int64_t attention = H * 4096 + 2 * H * 512 + 4096 * H + 2 * 128 + 2 * H;
  const int64_t expert = 3 * H * F;
  Request r = LlamaRequest({H, layers, F, V}, world);
  r.units.clear();
  r.units.push_back({"model.embed_tokens", V * H, {}});
  for (int i = 0; i < layers; ++i) {
    const std::string l = "model.layers." + std::to_string(i);
    r.units.push_back({l, attention + E * H + 42 * expert, {}, i});
    r.units.push_back({l + ".experts.42-84", 43 * expert, {}, i});
    r.units.push_back({l + ".experts.85-127", 43 * expert, {}, i});
  }
  r.units.push_back({"model.norm", H + V * H, {}});
  r.shape = {layers, H, 6144, 4096, 512, V, true};
  r.shape.heads = 32;
  r.shape.qk_norm_width = 4096 + 512;
  r.shape.sparse_layers = layers;
  r.shape.experts = E;
  r.shape.top_k = 8;
  r.shape.expert_ffn = F;
  r.shape.expert_units = 2 * layers;
  return r;
}

// A sparse layer's activations follow the k experts a token uses, not the E it has; the
// grouped GEMMs' stacked weights (one unit's experts, checkpointed) count on a GPU only;
// each further expert unit keeps its input pack (bfloat16 here).
TEST(MemoryModelTest, MixtureOfExpertsActivationsFollowTheRoutedExperts) {
  Request r = Qwen3MoeRequest(24, 1);
  const int64_t S = int64_t{4} * 2048, H = 2048;
  const int64_t with_gpu = ActivationBytes(r);
  Request cpu = r;
  cpu.gpu = false;
  const int64_t unit_workspace = 3 * 128 * H * 768 * 2 / 3;
  EXPECT_NEAR(static_cast<double>(with_gpu - ActivationBytes(cpu)),
              static_cast<double>(unit_workspace), 1e6);
  Request more = r;
  more.shape.experts = 256;  // twice the experts, the same k: the router's logits only grow
  EXPECT_LT(ActivationBytes(more) - with_gpu - unit_workspace, S * 128 * 10 * 2);
  Request no_packs = r;
  no_packs.shape.expert_units = 0;
  // (and, its experts all in one unit, its grouped GEMMs stack a whole layer's experts)
  EXPECT_EQ(with_gpu - ActivationBytes(no_packs),
            48 * S * 2 * (3 * H + 16) - (3 * unit_workspace - unit_workspace));
}

// Qwen3-30B-A3B whole (48 layers, 30.5B parameters) at world 2 on two H200 and 256 GiB of
// host memory, auto config, 4 x 2048 tokens per GPU: it fits, the experts' units placed
// like any other (some updated on the GPU, the rest on the host).
TEST(PlanTest, Qwen3MoeWholeFitsTwoGpusWithTheAutoConfig) {
  Request r = Auto(Qwen3MoeRequest(48, 2));
  r.ranks_per_host = 2;
  r.host_bytes = 256 * kGiB;
  auto p = MakePlan(r);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_NEAR(static_cast<double>(p->total_param_numel) / 1e9, 30.53, 0.02);
  EXPECT_EQ(p->units.size(), 2u + 3 * 48);
  EXPECT_TRUE(p->fits) << p->shortfall;
  int on_gpu = 0, experts_on_gpu = 0;
  for (const UnitPlacement& u : p->units) {
    on_gpu += u.optimizer == Where::kDevice;
    experts_on_gpu +=
        u.optimizer == Where::kDevice && u.name.find(".experts.") != std::string::npos;
  }
  EXPECT_GT(on_gpu, 0);
  EXPECT_LT(on_gpu, static_cast<int>(p->units.size()));
  EXPECT_GT(experts_on_gpu, 0);
}

TEST(JobRequestTest, DeepSpeedKeysReachThePlan) {
  const std::string text = R"({"train_micro_batch_size_per_gpu": 4, "bf16": {"enabled": true},
    "zero_optimization": {"stage": 3, "offload_param": {"device": "auto"},
      "offload_optimizer": {"device": "cpu", "ratio": "auto"}}})";
  auto ds = config::ParseDsConfig(text, 1, "ds.json");
  ASSERT_TRUE(ds.ok()) << ds.status();
  EXPECT_EQ(ds->zero.offload_param.device, config::OffloadDevice::kAuto);
  EXPECT_FALSE(ds->zero.offload_optimizer.ratio.has_value());
  models::ModelConfig model;
  model.arch = models::DecoderConfig{};
  const Request r = MakeRequest(*ds, model, LlamaRequest(k7B).units,
                                {.seq_len = 2048, .gpu = true, .gpu_bytes = 141 * kGiB});
  EXPECT_EQ(r.offload_param, Choice::kAuto);
  EXPECT_FALSE(r.optimizer_ratio.has_value());
  EXPECT_EQ(r.micro_batch, 4);
  EXPECT_EQ(r.compute_dtype, DType::kBFloat16);
  EXPECT_EQ(r.shape.hidden, 4096);

  auto half = config::ParseDsConfig(R"({"train_batch_size": 4, "zero_optimization": {"stage": 3,
      "offload_optimizer": {"device": "cpu", "ratio": 0.25}}})",
                                    1, "ds.json");
  ASSERT_TRUE(half.ok()) << half.status();
  EXPECT_DOUBLE_EQ(*half->zero.offload_optimizer.ratio, 0.25);
  auto none = config::ParseDsConfig(R"({"train_batch_size": 4, "zero_optimization": {"stage": 3,
      "offload_optimizer": {"device": "none", "ratio": 0.25}}})",
                                    1, "ds.json");
  EXPECT_DOUBLE_EQ(*none->zero.offload_optimizer.ratio, 0.0);  // nothing is offloaded
  auto bad = config::ParseDsConfig(R"({"train_batch_size": 4, "zero_optimization": {"stage": 3,
      "offload_optimizer": {"device": "cpu", "ratio": 2}}})",
                                   1, "ds.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("offload_optimizer.ratio"), std::string::npos);
  auto misplaced = config::ParseDsConfig(R"({"train_batch_size": 4, "zero_optimization": {
      "stage": 3, "offload_param": {"device": "cpu", "ratio": 0.5}}})",
                                         1, "ds.json");
  ASSERT_FALSE(misplaced.ok());
  EXPECT_NE(misplaced.status().message().find("offload_param.ratio"), std::string::npos);
}

TEST(PlanReportTest, JsonHasFitsAndPerRankBytes) {
  const Request r = Auto(LlamaRequest(k13B, 2));
  auto plan = MakePlan(r);
  ASSERT_TRUE(plan.ok());
  const auto j = nlohmann::json::parse(FormatPlanJson(*plan, {"llama-13b", &r}));
  EXPECT_EQ(j["fits"].get<bool>(), plan->fits);
  ASSERT_EQ(j["ranks"].size(), 2u);
  EXPECT_EQ(j["ranks"][1]["gpu_bytes"].get<int64_t>(), plan->gpu.Total());
  EXPECT_EQ(j["ranks"][0]["host_bytes"].get<int64_t>(), plan->host.Total());
  EXPECT_EQ(j["units"].size(), 42u);
  const std::string text = FormatPlanText(*plan, {"llama-13b", &r});
  EXPECT_NE(text.find("optimizer state (fp32 master, m, v)"), std::string::npos);
  EXPECT_NE(text.find("fits: yes"), std::string::npos) << text;
}

// With the first c layers checkpointed, the peak lies between none and all checkpointed,
// falling as c grows; the ends are the fixed modes' peaks.
TEST(MemoryModelTest, PartialCheckpointingLiesBetweenNoneAndAll) {
  Request r = LlamaRequest(k7B);
  r.activation_checkpointing = Checkpointing::kOff;
  const int64_t none = ActivationBytes(r);
  r.activation_checkpointing = Checkpointing::kOn;
  const int64_t all = ActivationBytes(r);
  EXPECT_EQ(ActivationBytes(r, 0), none);
  EXPECT_EQ(ActivationBytes(r, 32), all);
  for (int c = 1; c <= 32; ++c) EXPECT_LT(ActivationBytes(r, c), ActivationBytes(r, c - 1)) << c;
}

// auto: the plan recomputes no layer where memory allows, the first layers in forward
// order (never the embedding or the head) as memory shrinks, and every layer before it
// refuses. The placement is fixed here (all state on the host): only checkpointing moves.
TEST(PlanTest, AutoCheckpointingRecomputesOnlyWhatMemoryRequires) {
  Request r = LlamaRequest(k7B);
  r.activation_checkpointing = Checkpointing::kAuto;
  auto recomputed = [&](int64_t gpu_bytes) {
    r.gpu_bytes = gpu_bytes;
    const Plan p = *MakePlan(r);
    if (!p.fits) return -1;
    int marked = 0;
    for (size_t i = 0; i < p.units.size(); ++i) {
      const int layer = r.units[i].layer;
      EXPECT_EQ(p.units[i].recompute, layer >= 0 && layer < p.recomputed_layers) << i;
      marked += p.units[i].recompute;
    }
    EXPECT_EQ(marked, p.recomputed_layers);
    EXPECT_EQ(p.layers, 32);
    return p.recomputed_layers;
  };
  EXPECT_EQ(recomputed(141 * kGiB), 0);
  const int at_40 = recomputed(40 * kGiB);
  EXPECT_GT(at_40, 0);
  EXPECT_LT(at_40, 32);
  EXPECT_GT(recomputed(30 * kGiB), at_40);
  // It fits exactly where recomputing every layer fits.
  for (int64_t gib = 8; gib <= 40; gib += 2) {
    r.activation_checkpointing = Checkpointing::kOn;
    r.gpu_bytes = gib * kGiB;
    const bool on_fits = MakePlan(r)->fits;
    r.activation_checkpointing = Checkpointing::kAuto;
    EXPECT_EQ(recomputed(gib * kGiB) >= 0, on_fits) << gib << " GiB";
  }
  // "on" recomputes every unit, the embedding and the head too (the engine's old switch).
  r.activation_checkpointing = Checkpointing::kOn;
  for (const UnitPlacement& u : MakePlan(r)->units) EXPECT_TRUE(u.recompute) << u.name;
}

// auto placement and auto checkpointing together (6.74B on one H200 + 128 GiB): fewer
// recomputed layers than "on", and the pair chosen costs no more (step_cost.h) than "on"'s
// placement with every layer recomputed. The text and JSON say what was chosen.
TEST(PlanTest, AutoCheckpointingWeighsRecomputationAgainstHostUpdates) {
  Request r = LlamaRequest(k7B);
  r.offload_param = Choice::kAuto;
  r.optimizer_ratio.reset();
  r.activation_checkpointing = Checkpointing::kOn;
  const Plan on = *MakePlan(r);
  r.activation_checkpointing = Checkpointing::kAuto;
  const Plan chosen = *MakePlan(r);
  ASSERT_TRUE(on.fits);
  ASSERT_TRUE(chosen.fits);
  EXPECT_LT(chosen.recomputed_layers, 32);
  auto host_units = [](const Plan& p) {
    int n = 0;
    for (const UnitPlacement& u : p.units) n += u.optimizer == Where::kHost;
    return n;
  };
  const std::vector<double> forward = ForwardSeconds(r);
  const double cost_on = AddedSeconds(r, forward, on.units, 32);
  const double cost = AddedSeconds(r, forward, chosen.units, chosen.recomputed_layers);
  EXPECT_LE(cost, cost_on);
  const ReportContext context{"llama-7b", &r};
  const std::string text = FormatPlanText(chosen, context);
  EXPECT_NE(text.find(absl::StrCat("activation checkpointing auto (", chosen.recomputed_layers,
                                   " of 32 layers recomputed)")),
            std::string::npos)
      << text;
  const nlohmann::json j = nlohmann::json::parse(FormatPlanJson(chosen, context));
  EXPECT_EQ(j["activation_checkpointing"], "auto");
  EXPECT_EQ(j["recomputed_layers"], chosen.recomputed_layers);
  std::printf("%s  host-updated units %d, added %.3f s (on: %d units, %.3f s)\n", text.c_str(),
              host_units(chosen), cost, host_units(on), cost_on);
}

// A job that fits only with checkpointing, planned without it, names auto as the remedy.
TEST(PlanTest, NoCheckpointingThatDoesNotFitNamesAuto) {
  Request r = LlamaRequest(k7B);
  r.activation_checkpointing = Checkpointing::kOff;
  r.gpu_bytes = 40 * kGiB;
  const Plan p = *MakePlan(r);
  ASSERT_FALSE(p.fits);
  EXPECT_NE(p.shortfall.find("--activation-checkpointing auto"), std::string::npos) << p.shortfall;
}

// Note [derived shard]: a device-updated unit whose shard would live beside its master
// keeps no 16-bit shard (2 bytes per parameter less GPU memory); host-updated units keep
// theirs. The 30B shape of TheMicroBatchRemedyIsOfferedOnlyAsItFits fits with them.
TEST(PlanTest, DerivedWeightsHoldNoShardBesideADeviceMaster) {
  Request r = Auto(LlamaRequest(k7B));  // on one H200: everything on the GPU
  r.activation_checkpointing = Checkpointing::kOn;
  const Plan derived = *MakePlan(r);
  r.derived_weights = false;
  const Plan kept = *MakePlan(r);
  ASSERT_TRUE(derived.fits);
  ASSERT_TRUE(kept.fits);
  EXPECT_EQ(kept.optimizer_ratio, 0.0);
  EXPECT_EQ(derived.optimizer_ratio, 0.0);
  int64_t shards = 0;
  for (const UnitPlacement& u : kept.units) shards += u.shard_numel;
  EXPECT_EQ(kept.gpu.params, shards * 2);
  EXPECT_EQ(derived.gpu.params, 0);
  EXPECT_EQ(derived.gpu.Total(), kept.gpu.Total() - shards * 2);
  // Where the GPU is short, the memory saved goes to optimizer state on it.
  for (int64_t gib : {40, 60, 80}) {
    r.gpu_bytes = gib * kGiB;
    r.derived_weights = true;
    const double with = MakePlan(r)->optimizer_ratio;
    r.derived_weights = false;
    EXPECT_LE(with, MakePlan(r)->optimizer_ratio) << gib << " GiB";
  }
  Request big = Auto(LlamaRequest({6656, 60, 17920}, 2));
  big.ranks_per_host = 2;
  big.host_bytes = 256 * kGiB;
  EXPECT_TRUE(MakePlan(big)->fits);
}

// Note [derived shard]: host-updated units whose shard lives on the host may make it from
// their float32 master instead (uploaded whole, rounded on the GPU): 2 bytes per element
// less host memory, one float32 staging copy on the GPU, twice the upload bytes in the time
// model. "auto" does so only where kept shards do not fit; never with the delayed update,
// in float32, or when turned off.
TEST(PlanTest, HostShardsAreDerivedFromTheirMastersWhereHostMemoryNeedsIt) {
  Request r = Auto(LlamaRequest({5120, 53, 13824}));  // 17.14B on one H200 + 128 GiB
  r.activation_checkpointing = Checkpointing::kAuto;
  const Plan chosen = *MakePlan(r);
  r.derived_host_weights = false;
  const Plan kept = *MakePlan(r);
  EXPECT_FALSE(kept.fits) << "the 53-layer shape fits without derived host shards";
  EXPECT_NE(kept.shortfall.find("zerod_derived_host_weights \"auto\""), std::string::npos)
      << kept.shortfall;
  ASSERT_TRUE(chosen.fits) << chosen.shortfall;
  int derived_host = 0;
  int64_t largest = 0;
  for (const UnitPlacement& u : chosen.units) {
    if (u.optimizer != Where::kHost || u.params != Where::kHost) continue;
    EXPECT_TRUE(u.derived) << u.name;
    derived_host += u.derived;
    largest = std::max(largest, u.shard_numel);
  }
  EXPECT_GT(derived_host, 0);
  EXPECT_EQ(chosen.host.params, 0);
  EXPECT_NE(FormatPlanText(chosen, {"llama-17b", &r}).find("made from the master"),
            std::string::npos);
  EXPECT_TRUE(nlohmann::json::parse(FormatPlanJson(chosen, {"llama-17b", &r}))["units"]
                  .back()["derived"]
                  .get<bool>());

  // Where kept shards fit, "auto" keeps them; true derives them, for one staging copy.
  Request seed = LlamaRequest(k7B);  // the seed's config: every unit on the host
  const Plan auto_seed = *MakePlan(seed);
  seed.derived_host_weights = true;
  const Plan derived_seed = *MakePlan(seed);
  ASSERT_TRUE(auto_seed.fits);
  ASSERT_TRUE(derived_seed.fits);
  EXPECT_EQ(derived_seed.host.params, 0);
  EXPECT_EQ(auto_seed.host.params, derived_seed.host.optimizer / 6);
  int64_t staging = 0;
  for (size_t i = 0; i < derived_seed.units.size(); ++i) {
    EXPECT_FALSE(auto_seed.units[i].derived) << auto_seed.units[i].name;
    EXPECT_TRUE(derived_seed.units[i].derived) << derived_seed.units[i].name;
    staging = std::max(staging, derived_seed.units[i].shard_numel * 4);
  }
  EXPECT_EQ(derived_seed.gpu.buffers, auto_seed.gpu.buffers + staging);
  // The uploads cost twice the bytes.
  const std::vector<double> forward = ForwardSeconds(seed);
  EXPECT_GT(AddedSeconds(seed, forward, derived_seed.units, 32),
            AddedSeconds(seed, forward, auto_seed.units, 32));

  Request delayed = seed, fp32 = seed, off = seed;
  delayed.delayed_update = true;
  fp32.compute_dtype = DType::kFloat32;
  off.derived_host_weights = false;
  for (const Request* no : {&delayed, &fp32, &off}) {
    for (const UnitPlacement& u : MakePlan(*no)->units) EXPECT_FALSE(u.derived) << u.name;
  }
}

}  // namespace
}  // namespace zerod::plan
