// The mixture-of-experts MLP (engine/models/moe.h) against the definition transformers'
// eager experts loop computes: for every token and each of its k experts, the expert's
// MLP times its routing weight, summed. zerod sorts the (token, expert) pairs once and
// runs each expert on a contiguous slice (grouped GEMMs on the GPU); outputs and
// gradients must be the same. Also: the routing switches, unused experts, the
// load-balancing loss, and where a per-expert tensor lies in the fused checkpoint layout.
#include "engine/models/moe.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "engine/api.h"
#include "engine/models/expert_layout.h"
#include "nlohmann/json.hpp"

namespace zerod::models {
namespace {

struct Fixture {
  int64_t N = 37, C = 16, F = 24, E = 5, k = 2;
  torch::Tensor x, router;
  ExpertWeights w;
  explicit Fixture(torch::ScalarType dtype = torch::kFloat32, torch::Device device = torch::kCPU) {
    torch::manual_seed(7);
    auto o = torch::TensorOptions().dtype(dtype).device(device);
    x = torch::randn({N, C}, o).requires_grad_(true);
    router = torch::randn({E, C}, o).requires_grad_(true);
    for (int64_t e = 0; e < E; ++e) {
      w.gate.push_back((torch::randn({F, C}, o) * 0.2).requires_grad_(true));
      w.up.push_back((torch::randn({F, C}, o) * 0.2).requires_grad_(true));
      w.down.push_back((torch::randn({C, F}, o) * 0.2).requires_grad_(true));
    }
  }
  // The same values in `dtype`, as leaves of their own.
  Fixture Cast(torch::ScalarType dtype) const {
    Fixture c = *this;
    auto cast = [&](const torch::Tensor& t) { return t.detach().to(dtype).requires_grad_(true); };
    c.x = cast(x), c.router = cast(router);
    for (int64_t e = 0; e < E; ++e) {
      c.w.gate[e] = cast(w.gate[e]), c.w.up[e] = cast(w.up[e]), c.w.down[e] = cast(w.down[e]);
    }
    return c;
  }
  // The same values laid out as the engine lays a unit's parameters: one flat buffer, the
  // gates of all experts, then the ups, then the downs, each a leaf viewing its part.
  Fixture Flat() const {
    Fixture c = *this;
    std::vector<torch::Tensor> parts;
    for (const auto* kind : {&w.gate, &w.up, &w.down})
      for (const auto& t : *kind) parts.push_back(t.detach().reshape({-1}));
    const torch::Tensor flat = torch::cat(parts);
    int64_t offset = 0;
    for (auto* kind : {&c.w.gate, &c.w.up, &c.w.down}) {
      for (auto& t : *kind) {
        t = flat.narrow(0, offset, t.numel()).view(t.sizes()).detach().requires_grad_(true);
        offset += t.numel();
      }
    }
    return c;
  }
  std::vector<torch::Tensor> Params() const {
    std::vector<torch::Tensor> p = {x, router};
    for (int64_t e = 0; e < E; ++e) p.insert(p.end(), {w.gate[e], w.up[e], w.down[e]});
    return p;
  }
};

MoeConfig Moe(int64_t experts, int64_t k, bool norm = false) {
  MoeConfig moe;
  moe.num_experts = experts;
  moe.top_k = k;
  moe.norm_topk_prob = norm;
  return moe;
}

// transformers' loop, one token at a time (the definition, not how anyone should run it).
torch::Tensor PerToken(const Fixture& f, const Routing& r) {
  std::vector<torch::Tensor> rows;
  for (int64_t t = 0; t < f.N; ++t) {
    torch::Tensor sum = torch::zeros({f.C}, f.x.options());
    for (int64_t j = 0; j < f.k; ++j) {
      const int64_t e = r.experts[t][j].item<int64_t>();
      const torch::Tensor h = f.x[t];
      const torch::Tensor y = torch::matmul(
          f.w.down[e], torch::silu(torch::matmul(f.w.gate[e], h)) * torch::matmul(f.w.up[e], h));
      sum = sum + (y * r.weights[t][j]).to(f.x.scalar_type());
    }
    rows.push_back(sum);
  }
  return torch::stack(rows);
}

std::vector<torch::Tensor> Grads(const torch::Tensor& y, const std::vector<torch::Tensor>& p) {
  return torch::autograd::grad({(y * y).sum()}, p, {}, /*retain_graph=*/true, false,
                               /*allow_unused=*/true);
}

TEST(MoeTest, SortedExpertsEqualThePerTokenDefinitionWithGradients) {
  for (bool norm : {false, true}) {
    Fixture f;
    const MoeConfig moe = Moe(f.E, f.k, norm);
    const Routing r = Route(f.x, f.router, moe);
    const torch::Tensor got = Experts(f.x, r, f.w, Activation::kSilu);
    const torch::Tensor want = PerToken(f, r);
    EXPECT_LT((got - want).abs().max().item<double>(), 1e-5);
    const auto g = Grads(got, f.Params()), h = Grads(want, f.Params());
    for (size_t i = 0; i < g.size(); ++i) {
      ASSERT_EQ(g[i].defined(), h[i].defined()) << i;
      if (g[i].defined()) {
        EXPECT_LT((g[i] - h[i]).abs().max().item<double>(), 1e-4) << i;
      }
    }
  }
}

// Adjacent expert weights stack as a view (no copy of the layer's experts), with the
// gradients torch::stack gives, each expert's a slice of one contiguous tensor (which the
// engine then copies as one run); weights that are not adjacent are stacked by copy.
TEST(MoeTest, AdjacentExpertWeightsStackAsAViewWithStacksGradients) {
  const Fixture f = Fixture().Flat();
  const torch::Tensor stacked = StackExperts(f.w.up);
  EXPECT_EQ(stacked.data_ptr(), f.w.up.front().data_ptr()) << "a view, not a copy";
  const torch::Tensor want = torch::stack(f.w.up);
  EXPECT_TRUE(torch::equal(stacked, want));
  const torch::Tensor probe = torch::randn(stacked.sizes());
  const auto g = torch::autograd::grad({(stacked * probe).sum()}, f.w.up);
  const auto h = torch::autograd::grad({(want * probe).sum()}, f.w.up);
  for (size_t e = 0; e < g.size(); ++e) {
    EXPECT_TRUE(torch::equal(g[e], h[e])) << e;
    if (e > 0) {
      EXPECT_TRUE(g[e].storage().is_alias_of(g[0].storage())) << e;
      EXPECT_EQ(g[e].storage_offset(), g[e - 1].storage_offset() + g[e - 1].numel()) << e;
    }
  }
  const Fixture apart;
  EXPECT_NE(StackExperts(apart.w.up).data_ptr(), apart.w.up.front().data_ptr());
  EXPECT_TRUE(torch::equal(StackExperts(apart.w.up), torch::stack(apart.w.up)));
}

TEST(MoeTest, RoutingIsSoftmaxThenTopKRenormalisedOnlyWhenAsked) {
  Fixture f;
  MoeConfig moe = Moe(f.E, f.k);
  const Routing r = Route(f.x, f.router, moe);
  const torch::Tensor p = torch::softmax(torch::matmul(f.x, f.router.t()), -1);
  auto [top, idx] = p.topk(f.k, -1);
  EXPECT_TRUE(torch::equal(r.experts, idx));
  EXPECT_LT((r.weights - top).abs().max().item<double>(), 1e-6) << "no renormalisation";
  moe.norm_topk_prob = true;
  const Routing n = Route(f.x, f.router, moe);
  EXPECT_LT((n.weights.sum(-1) - 1).abs().max().item<double>(), 1e-6);
  // Mixtral keeps the weights float32 when the model is bfloat16; the others round them.
  Fixture b(torch::kBFloat16);
  moe.weights_in_float32 = true;
  EXPECT_EQ(Route(b.x, b.router, moe).weights.scalar_type(), torch::kFloat32);
  moe.weights_in_float32 = false;
  EXPECT_EQ(Route(b.x, b.router, moe).weights.scalar_type(), torch::kBFloat16);
}

// Note [unused experts] (zero_engine.h): an expert no token chose is not in the graph.
TEST(MoeTest, AnExpertNoTokenChoseGetsNoGradient) {
  Fixture f;
  const MoeConfig moe = Moe(f.E, f.k);
  Routing r = Route(f.x, f.router, moe);
  r.experts = r.experts.masked_fill(r.experts == 3, 0);  // nothing routes to expert 3
  ASSERT_FALSE((r.experts == 3).any().item<bool>());
  const torch::Tensor y = Experts(f.x, r, f.w, Activation::kSilu);
  const auto g = Grads(y, {f.w.gate[3], f.w.down[3], f.w.gate[0]});
  EXPECT_FALSE(g[0].defined());
  EXPECT_FALSE(g[1].defined());
  EXPECT_TRUE(g[2].defined());
}

// load_balancing_loss_func: E * sum_e f_e P_e with f_e the share of top-k picks and P_e the
// mean probability, both over all layers' tokens together.
TEST(MoeTest, RouterAuxLossIsTransformersLoadBalancingLoss) {
  Fixture f;
  MoeConfig moe = Moe(f.E, f.k);
  std::vector<RouterStats> layers;
  std::vector<torch::Tensor> logits;
  for (int l = 0; l < 3; ++l) {
    const torch::Tensor x = f.x * (1.0 + 0.5 * l);
    const Routing r = Route(x, f.router, moe);
    layers.push_back(StatsOf(r, f.k));
    logits.push_back(r.logits);
  }
  const torch::Tensor all = torch::cat(logits);  // (3N, E)
  const torch::Tensor p = torch::softmax(all, -1);
  const torch::Tensor picks =
      torch::one_hot(std::get<1>(p.topk(f.k, -1)), f.E).sum(std::vector<int64_t>{0, 1});
  const double rows = static_cast<double>(all.size(0));
  const torch::Tensor want = ((picks.to(torch::kFloat32) / rows) * p.mean(0)).sum() * f.E;
  const torch::Tensor got = RouterAuxLoss(layers);
  EXPECT_LT((got - want).abs().item<double>(), 1e-6);
  const auto g = Grads(got, {f.router}), h = Grads(want, {f.router});
  EXPECT_LT((g[0] - h[0]).abs().max().item<double>(), 1e-6);
  EXPECT_FALSE(RouterAuxLoss({}).defined());
}

TEST(MoeTest, PerExpertTensorsAreContiguousRunsOfTheFusedLayout) {
  // gate_up_proj (E, 2F, C): expert e's gate rows, then its up rows.
  auto gate = FusedSourceOf("model.layers.3.mlp.experts.5.gate_proj.weight", {24, 16});
  ASSERT_TRUE(gate.has_value());
  EXPECT_EQ(gate->names, std::vector<std::string>{"model.layers.3.mlp.experts.gate_up_proj"});
  EXPECT_EQ(gate->offset, 5 * 2 * 24 * 16);
  EXPECT_EQ(gate->rows, 48);
  auto up = FusedSourceOf("model.layers.3.mlp.experts.5.up_proj.weight", {24, 16});
  EXPECT_EQ(up->offset, 5 * 2 * 24 * 16 + 24 * 16);
  auto down = FusedSourceOf("model.layers.3.mlp.experts.5.down_proj.weight", {16, 24});
  EXPECT_EQ(down->names, std::vector<std::string>{"model.layers.3.mlp.experts.down_proj"});
  EXPECT_EQ(down->offset, 5 * 16 * 24);
  EXPECT_EQ(down->rows, 16);
  // Mixtral's Hub names: w1 gate, w3 up, w2 down; fused under mlp (transformers renames).
  auto w3 = FusedSourceOf("model.layers.0.block_sparse_moe.experts.1.w3.weight", {24, 16});
  ASSERT_TRUE(w3.has_value());
  EXPECT_EQ(w3->names.front(), "model.layers.0.mlp.experts.gate_up_proj");
  EXPECT_EQ(w3->offset, 2 * 24 * 16 + 24 * 16);
  EXPECT_FALSE(FusedSourceOf("model.layers.0.mlp.gate_proj.weight", {24, 16}).has_value());
  EXPECT_FALSE(FusedSourceOf("model.layers.0.mlp.shared_expert.gate_proj.weight", {24, 16}));
  // An expert index past int64 names no expert (and throws nothing).
  EXPECT_FALSE(
      FusedSourceOf("model.layers.0.mlp.experts.99999999999999999999.up_proj.weight", {24, 16}));
}

// `zerod --plan` (PlanOffline, what the flag runs) on the benchmark configs: Qwen3-30B-A3B
// whole at world 2 on two H200 + 256 GiB fits with the auto config, its 48 layers split
// into 3 units each (the attention with the first experts, then two of experts alone); the
// OLMoE-1B-7B shape on one H200 + 128 GiB.
TEST(MoePlanTest, TheBenchmarkShapesArePlanned) {
  JobSpec spec;
  spec.model_dir = std::string(ZEROD_SOURCE_DIR) + "/bench/models/qwen3-30b-a3b";
  spec.ds_config_path = std::string(ZEROD_SOURCE_DIR) + "/configs/ds_zero3_auto.json";
  spec.seq_len = 2048;
  spec.activation_checkpointing = "on";
  PlanMachine machine;
  machine.world_size = 2;
  machine.ranks_per_host = 2;
  machine.gpu_memory = "141GiB";
  machine.host_memory = "256GiB";
  auto q = PlanOffline(spec, machine);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_TRUE(q->fits) << q->shortfall;
  const nlohmann::json j = nlohmann::json::parse(q->json);
  EXPECT_NEAR(j["parameters"].get<double>() / 1e9, 30.53, 0.01);
  std::printf("%s\n", q->text.substr(0, 1500).c_str());
  spec.model_dir = std::string(ZEROD_SOURCE_DIR) + "/bench/models/olmoe-1b-7b";
  machine.world_size = 1;
  machine.ranks_per_host = 1;
  machine.host_memory = "128GiB";
  auto o = PlanOffline(spec, machine);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_TRUE(o->fits) << o->shortfall;
}

// The GPU path: bfloat16 grouped GEMMs against the reference path on the same device in
// float32 (skipped without a GPU).
TEST(MoeGpuTest, GroupedGemmsEqualTheReferencePath) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no GPU";
  Fixture ref(torch::kFloat32, torch::kCUDA);
  for (const bool flat : {false, true}) {  // the engine's layout: the stacks are views
    SCOPED_TRACE(flat ? "weights in one flat buffer" : "weights apart");
    Fixture bf = flat ? ref.Cast(torch::kBFloat16).Flat() : ref.Cast(torch::kBFloat16);
    const MoeConfig moe = Moe(ref.E, ref.k);
    // The same routing for both, cut from x: the comparison is of the experts' path (the
    // router's share of x's gradient would otherwise go to ref.x from both sides).
    Routing r = Route(ref.x, ref.router, moe);
    r.weights = r.weights.detach();
    Routing rb = r;
    rb.weights = r.weights.to(torch::kBFloat16);
    const torch::Tensor want = Experts(ref.x, r, ref.w, Activation::kSilu);
    const torch::Tensor got = Experts(bf.x, rb, bf.w, Activation::kSilu);
    EXPECT_LT((got.to(torch::kFloat32) - want).abs().max().item<double>(),
              0.05 * want.abs().max().item<double>());
    const auto g = Grads(got.to(torch::kFloat32), {bf.w.gate[0], bf.w.down[4], bf.x});
    const auto h = Grads(want, {ref.w.gate[0], ref.w.down[4], ref.x});
    for (size_t i = 0; i < g.size(); ++i) {
      ASSERT_TRUE(g[i].defined()) << i;
      EXPECT_LT((g[i].to(torch::kFloat32) - h[i]).abs().max().item<double>(),
                0.05 * h[i].abs().max().item<double>())
          << i;
    }
  }
}

}  // namespace
}  // namespace zerod::models
