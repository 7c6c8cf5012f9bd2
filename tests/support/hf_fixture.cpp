#include "tests/support/hf_fixture.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "engine/models/checkpoint_reader.h"
#include "engine/models/decoder.h"
#include "engine/models/lm_loss.h"
#include "engine/models/registry.h"
#include "engine/models/safetensors.h"
#include "nlohmann/json.hpp"
#include "tests/support/test_env.h"

namespace zerod::testing {
namespace {

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

torch::Tensor ToTorch(const models::SafetensorsFile& file, const models::TensorInfo& t) {
  const auto dtype = t.dtype == DType::kFloat32 ? torch::kFloat32 : torch::kInt64;
  return torch::from_blob(const_cast<uint8_t*>(file.Data(t)), t.shape,
                          torch::TensorOptions().dtype(dtype))
      .clone();
}

}  // namespace

const std::vector<std::string>& HfFixtureNames() {
  static const std::vector<std::string> names = {"llama_gqa",
                                                 "llama_tied_bias_llama3_head_dim",
                                                 "llama_linear_rope_legacy",
                                                 "mistral_gqa_head_dim",
                                                 "qwen2_tied",
                                                 "gpt2_tied",
                                                 "gpt2_untied_gelu_unscaled",
                                                 "mistral_window",
                                                 "qwen2_window_layers",
                                                 "llama_yarn",
                                                 "qwen3_qk_norm_bias",
                                                 "olmo2_post_norms",
                                                 "phi3_partial_longrope_window",
                                                 "phi3_partial_in_rope_short",
                                                 "gemma2_softcap_window",
                                                 "gemma3_local_rope_nested",
                                                 "mixtral_moe",
                                                 "qwen2_moe_shared_expert",
                                                 "qwen3_moe_mlp_only_norm_topk",
                                                 "qwen3_moe_sparse_step_fused",
                                                 "olmoe"};
  return names;
}

const std::vector<std::string>& PackedFixtureNames() {
  static const std::vector<std::string> names = {
      "llama_gqa",  "qwen3_qk_norm_bias",    "mistral_window",
      "gpt2_tied",  "gemma2_softcap_window", "gemma3_local_rope_nested",
      "mixtral_moe"};
  return names;
}

namespace {

torch::Tensor IdsOf(const nlohmann::json& rows) {
  std::vector<std::vector<int64_t>> ids = rows;
  torch::Tensor t = torch::empty(
      {static_cast<int64_t>(ids.size()), static_cast<int64_t>(ids[0].size())}, torch::kInt64);
  for (size_t b = 0; b < ids.size(); ++b) {
    for (size_t i = 0; i < ids[b].size(); ++i) t[b][i] = ids[b][i];
  }
  return t;
}

}  // namespace

PackedFixture LoadPackedFixture(const HfFixture& f) {
  PackedFixture p;
  nlohmann::json j = nlohmann::json::parse(ReadText(f.dir + "/packed.json"));
  p.masked_labels = IdsOf(j["masked_labels"]);
  p.masked_loss = j["masked_loss"];
  p.masked_grad_norm = j["masked_grad_norm"];
  p.packed_ids = IdsOf(j["packed_ids"]);
  p.documents = j["packed_documents"].get<std::vector<std::vector<int64_t>>>();
  p.padding = j["packed_padding"].get<std::vector<bool>>();
  p.doc_losses = j["doc_losses"].get<std::vector<double>>();
  p.packed_loss = j["packed_loss"];
  p.packed_grad_norm = j["packed_grad_norm"];
  for (auto& [name, t] : ReadAllTensors(f.dir + "/packed.safetensors")) {
    if (name == "logits") p.logits = t;
  }
  EXPECT_TRUE(p.logits.defined()) << f.name << ": packed.safetensors has no logits";
  return p;
}

std::string HfFixtureDsConfig() { return std::string(ZEROD_FIXTURES_DIR) + "/ds_adamw.json"; }

HfFixture LoadHfFixture(const std::string& name) {
  HfFixture f;
  f.name = name;
  f.dir = std::string(ZEROD_FIXTURES_DIR) + "/" + name;
  auto config = models::LoadModelConfig(f.dir);
  EXPECT_TRUE(config.ok()) << config.status();
  if (!config.ok()) return f;
  f.config = *config;
  nlohmann::json expected = nlohmann::json::parse(ReadText(f.dir + "/expected.json"));
  std::vector<std::vector<int64_t>> ids = expected["input_ids"];
  f.input_ids = torch::empty(
      {static_cast<int64_t>(ids.size()), static_cast<int64_t>(ids[0].size())}, torch::kInt64);
  for (size_t b = 0; b < ids.size(); ++b) {
    for (size_t t = 0; t < ids[b].size(); ++t) f.input_ids[b][t] = ids[b][t];
  }
  f.loss = expected["loss"];
  f.grad_norm = expected["grad_norm"];
  f.has_adamw = expected["adamw"];
  if (expected.contains("aux_loss")) {
    f.routed = true;
    f.aux_loss = expected["aux_loss"];
    f.loss_with_aux = expected["loss_with_aux"];
    f.grad_norm_with_aux = expected["grad_norm_with_aux"];
    f.fused_layout = expected.value("fused_layout", false);
  }
  for (auto& [tensor_name, t] : ReadAllTensors(f.dir + "/reference.safetensors")) {
    if (tensor_name == "logits") f.logits = t;
  }
  EXPECT_TRUE(f.logits.defined()) << name << ": reference.safetensors has no logits";
  return f;
}

std::unique_ptr<zero::ZeroEngine> FixtureEngine(const HfFixture& f, zero::EngineOptions options,
                                                comm::Communicator* comm) {
  auto engine = zero::ZeroEngine::Create(models::BuildUnits(f.config),
                                         comm != nullptr ? comm : &World(), options);
  EXPECT_TRUE(engine.ok()) << engine.status();
  auto reader = models::CheckpointReader::Open(f.dir);
  EXPECT_TRUE(reader.ok()) << reader.status();
  absl::Status loaded = (*engine)->LoadWeights(**reader);
  EXPECT_TRUE(loaded.ok()) << loaded;
  return std::move(engine).value();
}

std::vector<std::pair<std::string, torch::Tensor>> ReadAllTensors(const std::string& path) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  auto file = models::SafetensorsFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status();
  if (!file.ok()) return out;
  for (const models::TensorInfo& t : (*file)->tensors())
    out.emplace_back(t.name, ToTorch(**file, t));
  return out;
}

torch::Tensor ShiftedLoss(const torch::Tensor& logits, const torch::Tensor& ids) {
  const int64_t T = ids.size(1);
  return models::CausalLmLoss(logits.narrow(1, 0, T - 1),
                              ids.narrow(1, 1, T - 1).to(logits.device()));
}

void ForEachGatheredParam(zero::ZeroEngine& engine,
                          const std::function<void(const std::string&, const torch::Tensor&)>& fn) {
  ASSERT_TRUE(engine.FinishUpdates().ok());  // host updates may still be landing
  for (int i = 0; i < engine.num_units(); ++i) {
    ASSERT_TRUE(engine.group(i).StartFetch().ok());
    ASSERT_TRUE(engine.group(i).WaitFetch().ok());
    for (size_t k = 0; k < engine.unit(i).params().size(); ++k) {
      fn(engine.unit(i).specs()[k].name, engine.unit(i).params()[k].detach());
    }
    ASSERT_TRUE(engine.group(i).Release().ok());
  }
}

}  // namespace zerod::testing
