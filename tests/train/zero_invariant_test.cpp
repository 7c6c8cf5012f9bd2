// DESIGN.md's invariant: ZeRO-3 is only a memory layout. Run under mpirun at world
// sizes 1, 2 and 4 (see tests/CMakeLists.txt), each run compares its losses with the
// plain LibTorch reference, so all world sizes agree with it and with each other.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "tests/support/plain_trainer.h"
#include "tests/support/test_env.h"

namespace zerod {
namespace {

using testing::TempDir;
using testing::World;

struct Files {
  TempDir dir;
  JobSpec spec;
  Files(bool checkpointing, int64_t persistence_threshold, const std::string& param_device = "cpu",
        const std::string& config_json = testing::TinyLlamaConfigJson()) {
    // train_batch_size 16 of micro-batches of 2: 8, 4 or 2 accumulation steps at world
    // size 1, 2, 4. Clipping at 0.5 is active (the norm starts above it).
    const std::string ds = absl::StrCat(R"({
      "train_batch_size": 16, "train_micro_batch_size_per_gpu": 2, "gradient_clipping": 0.5,
      "optimizer": {"type": "AdamW", "params": {"lr": 3e-3, "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.1}},
      "scheduler": {"type": "WarmupLR", "params": {"warmup_min_lr": 1e-4, "warmup_max_lr": 3e-3,
                    "warmup_num_steps": 5, "warmup_type": "linear"}},
      "zero_optimization": {"stage": 3, "offload_param": {"device": ")",
                                        param_device, R"(", "pin_memory": true},
                            "offload_optimizer": {"device": "cpu", "pin_memory": true},
                            "stage3_param_persistence_threshold": )",
                                        persistence_threshold, R"(,
                            "stage3_prefetch_bucket_size": 5000}})");
    spec = testing::WriteTinyJob(dir, config_json, ds, /*steps=*/20, /*seq_len=*/16, /*seed=*/11);
    spec.activation_checkpointing = checkpointing ? "on" : "off";
  }
};

void ExpectSameLossesAsPlainTraining(
    bool checkpointing, int64_t persistence_threshold, comm::Communicator& comm = World(),
    const std::string& device = "cpu",
    const std::string& config_json = testing::TinyLlamaConfigJson()) {
  Files files(checkpointing, persistence_threshold, "cpu", config_json);
  std::vector<double> want = testing::PlainTrainingLosses(files.spec, device);
  auto job = Job::Create(files.spec, &comm);
  ASSERT_TRUE(job.ok()) << job.status();
  bool clipped = false;
  double worst = 0.0;
  for (int64_t i = 0; i < files.spec.steps; ++i) {
    auto m = (*job)->Step();
    ASSERT_TRUE(m.ok()) << m.status();
    clipped |= m->grad_norm > 0.5;
    const double rel = std::abs(m->loss - want[i]) / std::abs(want[i]);
    worst = std::max(worst, rel);
    EXPECT_LT(rel, 1e-5) << "step " << i + 1 << ": zero " << m->loss << " plain " << want[i]
                         << " (world " << World().world_size() << ")";
  }
  if (World().rank() == 0) {
    std::printf(
        "  world %d on %s: largest relative loss difference to plain LibTorch over %lld steps: "
        "%.2e\n",
        World().world_size(), device.c_str(), static_cast<long long>(files.spec.steps), worst);
  }
  EXPECT_TRUE(clipped) << "the test must exercise clipping";
  EXPECT_LT(want.back(), want.front() - 0.1)
      << "the loss must fall for the comparison to mean anything";
}

TEST(ZeroInvariantTest, SameLossesAsPlainTrainingWithoutCheckpointing) {
  ExpectSameLossesAsPlainTraining(/*checkpointing=*/false, /*persistence_threshold=*/0);
}

TEST(ZeroInvariantTest, SameLossesAsPlainTrainingWithActivationCheckpointing) {
  ExpectSameLossesAsPlainTraining(/*checkpointing=*/true, /*persistence_threshold=*/0);
}

TEST(ZeroInvariantTest, SameLossesWithPersistentSmallUnits) {
  ExpectSameLossesAsPlainTraining(/*checkpointing=*/false, /*persistence_threshold=*/1'000'000);
}

// A tied embedding (Note [tied weights]): gathered for the head too, its two uses'
// gradients summed before one reduce-scatter, over gradient accumulation and clipping.
TEST(ZeroInvariantTest, SameLossesWithTiedEmbeddings) {
  std::string tied = testing::TinyLlamaConfigJson();
  tied.insert(1, R"("tie_word_embeddings": true, )");
  ExpectSameLossesAsPlainTraining(false, 0, World(), "cpu", tied);
  ExpectSameLossesAsPlainTraining(true, 0, World(), "cpu", tied);
}

TEST(ZeroInvariantTest, SameLossesForGpt2) {
  const std::string gpt2 = R"({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
      "vocab_size": 64, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 64,
      "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0})";
  ExpectSameLossesAsPlainTraining(false, 0, World(), "cpu", gpt2);
}

// Every decoder family with its switches on (q/k norms, post-norms, fused projections,
// partial rotary with longrope, soft-capping, windows shorter than the 16-token sequence,
// a local RoPE, tied embeddings), with and without checkpointing.
std::string FamilyJson(const std::string& architecture, const std::string& model_type,
                       const std::string& extra) {
  return absl::StrCat(R"({"architectures": [")", architecture, R"("], "model_type": ")", model_type,
                      R"(", "vocab_size": 64, "hidden_size": 32,
      "intermediate_size": 72, "num_hidden_layers": 2, "num_attention_heads": 4,
      "num_key_value_heads": 2, "head_dim": 8, "max_position_embeddings": 128)",
                      extra.empty() ? "" : ", ", extra, "}");
}

TEST(ZeroInvariantTest, SameLossesForEveryDecoderFamily) {
  const std::pair<const char*, std::string> families[] = {
      {"Qwen3", FamilyJson("Qwen3ForCausalLM", "qwen3", R"("attention_bias": true)")},
      {"OLMo 2", FamilyJson("Olmo2ForCausalLM", "olmo2", "")},
      {"Phi-3", FamilyJson("Phi3ForCausalLM", "phi3", R"("partial_rotary_factor": 0.5,
           "sliding_window": 5, "original_max_position_embeddings": 8, "pad_token_id": 0,
           "rope_parameters": {"rope_type": "longrope", "short_factor": [1.0, 1.25],
                               "long_factor": [1.5, 3.0]})")},
      {"Gemma 2", FamilyJson("Gemma2ForCausalLM", "gemma2", R"("query_pre_attn_scalar": 12,
           "attn_logit_softcapping": 2.0, "final_logit_softcapping": 3.0, "sliding_window": 5)")},
      {"Gemma 3", FamilyJson("Gemma3ForCausalLM", "gemma3_text", R"("sliding_window": 5,
           "sliding_window_pattern": 2, "final_logit_softcapping": 4.0, "rope_local_base_freq": 100,
           "rope_scaling": {"rope_type": "linear", "factor": 2.0})")},
  };
  for (const auto& [name, json] : families) {
    SCOPED_TRACE(name);
    if (World().rank() == 0) std::printf("  %s:\n", name);
    ExpectSameLossesAsPlainTraining(false, 0, World(), "cpu", json);
    ExpectSameLossesAsPlainTraining(true, 0, World(), "cpu", json);
  }
}

// The mixtures of experts: routing, the experts as groups, the shared expert, dense
// layers between sparse ones, and the router's load-balancing loss in the training loss
// (output_router_logits; the plain reference then takes each micro-batch's loss, as the
// aux loss is not linear in the batch), with and without checkpointing.
TEST(ZeroInvariantTest, SameLossesForEveryMixtureOfExpertsFamily) {
  const std::pair<const char*, std::string> families[] = {
      {"Mixtral", FamilyJson("MixtralForCausalLM", "mixtral", R"("num_local_experts": 4,
           "num_experts_per_tok": 2, "output_router_logits": true, "router_aux_loss_coef": 0.05)")},
      {"Qwen2-MoE", FamilyJson("Qwen2MoeForCausalLM", "qwen2_moe", R"("num_experts": 4,
           "num_experts_per_tok": 2, "moe_intermediate_size": 24,
           "shared_expert_intermediate_size": 40, "output_router_logits": true,
           "router_aux_loss_coef": 0.05)")},
      {"Qwen3-MoE", FamilyJson("Qwen3MoeForCausalLM", "qwen3_moe", R"("num_experts": 4,
           "num_experts_per_tok": 2, "moe_intermediate_size": 24, "norm_topk_prob": true,
           "mlp_only_layers": [1])")},
      {"OLMoE", FamilyJson("OlmoeForCausalLM", "olmoe", R"("num_experts": 4,
           "num_experts_per_tok": 2, "output_router_logits": true, "router_aux_loss_coef": 0.05)")},
  };
  for (const auto& [name, json] : families) {
    SCOPED_TRACE(name);
    if (World().rank() == 0) std::printf("  %s:\n", name);
    ExpectSameLossesAsPlainTraining(false, 0, World(), "cpu", json);
    ExpectSameLossesAsPlainTraining(true, 0, World(), "cpu", json);
  }
}

// Note [unused experts] (zero/zero_engine.h): the step log counts the (layer, expert) pairs
// no token of the global batch chose, the same number on every rank. Four experts of top 2
// over 256 tokens: none unused. 512 experts of top 1 over the same 256 tokens: at least 256
// of each layer's 512 unused, and not all.
TEST(ZeroInvariantTest, UnusedExpertsAreCountedOverTheGlobalBatch) {
  struct Case {
    const char* experts;
    int64_t least, most;  // over the 2 sparse layers
  };
  for (const Case& c :
       {Case{R"("num_experts": 4, "num_experts_per_tok": 2)", 0, 0},
        Case{R"("num_experts": 512, "num_experts_per_tok": 1)", 2 * 256, 2 * 511}}) {
    SCOPED_TRACE(c.experts);
    Files files(false, 0, "cpu",
                FamilyJson("Qwen3MoeForCausalLM", "qwen3_moe",
                           absl::StrCat(c.experts, R"(, "moe_intermediate_size": 8)")));
    auto job = Job::Create(files.spec, &World());
    ASSERT_TRUE(job.ok()) << job.status();
    for (int step = 0; step < 3; ++step) {
      auto m = (*job)->Step();
      ASSERT_TRUE(m.ok()) << m.status();
      EXPECT_GE(m->unused_experts, c.least);
      EXPECT_LE(m->unused_experts, c.most);
      double mine[2] = {static_cast<double>(m->unused_experts),
                        -static_cast<double>(m->unused_experts)};
      ASSERT_TRUE(World().AllReduce(mine, 2, DType::kFloat64, comm::ReduceOp::kMax).ok());
      EXPECT_EQ(mine[0], -mine[1]) << "ranks disagree on the global count";
    }
  }
}

// The GPU path (CUDA builds on a GPU host): NCCL collectives, pinned host shards, the
// copy-in/copy-out streams, against plain LibTorch training on the same GPU.
std::string LocalGpu() { return "cuda:" + std::to_string(World().local_rank()); }

TEST(ZeroInvariantGpuTest, SameLossesAsPlainTrainingOnTheGpu) {
  if (testing::GpuWorld() == nullptr) GTEST_SKIP() << "no GPU path in this build or host";
  ExpectSameLossesAsPlainTraining(false, 0, *testing::GpuWorld(), LocalGpu());
}

TEST(ZeroInvariantGpuTest, SameLossesAsPlainTrainingOnTheGpuWithCheckpointing) {
  if (testing::GpuWorld() == nullptr) GTEST_SKIP() << "no GPU path in this build or host";
  ExpectSameLossesAsPlainTraining(true, 0, *testing::GpuWorld(), LocalGpu());
}

TEST(ZeroInvariantGpuTest, ParameterOffloadOnOrOffGivesTheSameLosses) {
  if (testing::GpuWorld() == nullptr) GTEST_SKIP() << "no GPU path in this build or host";
  std::vector<double> losses[2];
  const char* devices[2] = {"cpu", "none"};
  for (int i = 0; i < 2; ++i) {
    Files files(false, 0, devices[i]);
    auto job = Job::Create(files.spec, testing::GpuWorld());
    ASSERT_TRUE(job.ok()) << job.status();
    for (int64_t s = 0; s < files.spec.steps; ++s) {
      auto m = (*job)->Step();
      ASSERT_TRUE(m.ok()) << m.status();
      losses[i].push_back(m->loss);
    }
  }
  for (size_t s = 0; s < losses[0].size(); ++s) {
    EXPECT_LT(std::abs(losses[0][s] - losses[1][s]) / std::abs(losses[1][s]), 1e-6)
        << "step " << s + 1;
  }
}

}  // namespace
}  // namespace zerod
