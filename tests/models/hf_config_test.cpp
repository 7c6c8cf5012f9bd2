// config.json parsing: every architecture and RoPE form zerod implements is read as
// transformers reads it; whatever would change the math and is not implemented is
// refused with a message that names the field.
#include "engine/models/hf_config.h"

#include <gtest/gtest.h>

#include "nlohmann/json.hpp"

namespace zerod::models {
namespace {

nlohmann::json Llama() {
  return {{"architectures", {"LlamaForCausalLM"}},
          {"model_type", "llama"},
          {"vocab_size", 64},
          {"hidden_size", 32},
          {"intermediate_size", 64},
          {"num_hidden_layers", 2},
          {"num_attention_heads", 4},
          {"num_key_value_heads", 2}};
}

nlohmann::json Gpt2() {
  return {{"architectures", {"GPT2LMHeadModel"}},
          {"model_type", "gpt2"},
          {"vocab_size", 64},
          {"n_embd", 32},
          {"n_layer", 2},
          {"n_head", 4},
          {"n_positions", 64},
          {"resid_pdrop", 0.0},
          {"embd_pdrop", 0.0},
          {"attn_pdrop", 0.0}};
}

absl::StatusOr<ModelConfig> Parse(const nlohmann::json& j) {
  return ParseModelConfig(j.dump(), "config.json");
}

// The error names every fragment (the field, the offending value).
void ExpectRefused(const nlohmann::json& j, std::initializer_list<const char*> fragments) {
  auto c = Parse(j);
  ASSERT_FALSE(c.ok()) << j.dump();
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  for (const char* f : fragments) {
    EXPECT_NE(c.status().message().find(f), std::string::npos) << c.status() << " lacks " << f;
  }
}

TEST(HfConfigTest, UnsupportedArchitectureIsRefusedByName) {
  nlohmann::json j = Llama();
  j["architectures"] = {"FalconForCausalLM"};
  ExpectRefused(j, {"architectures", "FalconForCausalLM"});
}

TEST(HfConfigTest, LlamaFieldsThatChangeTheMathAreReadOrRefused) {
  nlohmann::json j = Llama();
  j["head_dim"] = 16;
  j["tie_word_embeddings"] = true;
  j["attention_bias"] = true;
  auto c = Parse(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->decoder()->head_dim, 16);
  EXPECT_TRUE(c->decoder()->tie_word_embeddings);
  EXPECT_TRUE(c->decoder()->qkv_bias && c->decoder()->o_bias);
  for (auto [key, value] :
       {std::pair<const char*, nlohmann::json>{"hidden_act", "gelu"}, {"pretraining_tp", 2}}) {
    nlohmann::json bad = Llama();
    bad[key] = value;
    ExpectRefused(bad, {key});
  }
}

TEST(HfConfigTest, RopeIsReadInTheNewAndTheLegacyForm) {
  nlohmann::json j = Llama();
  j["rope_parameters"] = {{"rope_type", "llama3"},   {"rope_theta", 500000.0},
                          {"factor", 8.0},           {"low_freq_factor", 1.0},
                          {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 8192}};
  auto c = Parse(j);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->decoder()->rope.type, RopeType::kLlama3);
  EXPECT_EQ(c->decoder()->rope.theta, 500000.0);
  EXPECT_EQ(c->decoder()->rope.original_max_position_embeddings, 8192);
  nlohmann::json legacy = Llama();
  legacy["rope_theta"] = 1e6;
  legacy["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  c = Parse(legacy);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->decoder()->rope.type, RopeType::kLinear);
  EXPECT_EQ(c->decoder()->rope.factor, 2.0);
  EXPECT_EQ(c->decoder()->rope.theta, 1e6);
}

TEST(HfConfigTest, UnknownRopeTypesAreRefusedByName) {
  nlohmann::json j = Llama();
  j["rope_parameters"] = {{"rope_type", "ntk-by-parts"}, {"rope_theta", 1e4}, {"factor", 4.0}};
  ExpectRefused(j, {"rope_parameters.rope_type", "ntk-by-parts", "\"yarn\"", "\"longrope\""});
  nlohmann::json legacy = Llama();
  legacy["rope_scaling"] = {{"type", "su"}, {"factor", 2.0}};
  ExpectRefused(legacy, {"rope_scaling.type", "su"});
  // A RoPE key no type of zerod's uses (a multimodal RoPE's sections) is refused too.
  nlohmann::json mrope = Llama();
  mrope["rope_parameters"] = {{"rope_type", "default"}, {"mrope_section", {16, 24, 24}}};
  ExpectRefused(mrope, {"rope_parameters.mrope_section"});
  // Llama's attention rotates all of head_dim: a partial rotary factor, in the rope object
  // or at the top (transformers moves it in), cannot be honoured.
  nlohmann::json partial = Llama();
  partial["rope_parameters"] = {{"rope_type", "default"}, {"partial_rotary_factor", 0.5}};
  ExpectRefused(partial, {"rope_parameters.partial_rotary_factor", "0.5"});
  nlohmann::json top = Llama();
  top["partial_rotary_factor"] = 0.5;
  ExpectRefused(top, {"partial_rotary_factor", "0.5"});
}

TEST(HfConfigTest, EveryRopeTypeIsRead) {
  nlohmann::json yarn = Llama();
  yarn["rope_parameters"] = {{"rope_type", "yarn"},
                             {"rope_theta", 1e4},
                             {"factor", 4.0},
                             {"beta_fast", 16},
                             {"mscale", 0.707},
                             {"mscale_all_dim", 1.0},
                             {"original_max_position_embeddings", 32}};
  auto c = Parse(yarn);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->decoder()->rope.type, RopeType::kYarn);
  EXPECT_EQ(c->decoder()->rope.beta_fast, 16.0);
  EXPECT_EQ(c->decoder()->rope.beta_slow, 1.0);
  EXPECT_EQ(c->decoder()->rope.original_max_position_embeddings, 32);
  nlohmann::json dynamic = Llama();
  dynamic["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};
  ASSERT_EQ(Parse(dynamic)->decoder()->rope.type, RopeType::kDynamic);
  dynamic["rope_scaling"] = {{"type", "dynamic"}};
  ExpectRefused(dynamic, {"rope_scaling.factor", "missing"});
  nlohmann::json longrope = Llama();  // head_dim 8: 4 factors each
  longrope["rope_parameters"] = {{"rope_type", "longrope"},
                                 {"short_factor", {1.0, 1.0, 1.0, 1.0}},
                                 {"long_factor", {1.0, 2.0, 3.0, 4.0}},
                                 {"original_max_position_embeddings", 16}};
  c = Parse(longrope);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->decoder()->rope.long_factor, (std::vector<double>{1, 2, 3, 4}));
  longrope["rope_parameters"]["long_factor"] = {1.0, 2.0};
  ExpectRefused(longrope, {"rope_parameters.long_factor", "4 numbers"});
}

// Keys the model does not read are refused with their value unless known to be harmless:
// nothing that might change the math is dropped.
TEST(HfConfigTest, UnhonouredKeysAreRefusedNamingKeyAndValue) {
  nlohmann::json softcap = Llama();
  softcap["attn_logit_softcapping"] = 50.0;  // Gemma 2's, meaningless to Llama
  ExpectRefused(softcap, {"attn_logit_softcapping", "50", "LlamaForCausalLM"});
  nlohmann::json misspelt = Llama();
  misspelt["rms_norm_esp"] = 1e-5;
  ExpectRefused(misspelt, {"rms_norm_esp", "did you mean \"rms_norm_eps\""});
  // Ids, dtype hints, use_cache, null values: harmless.
  nlohmann::json harmless = Llama();
  harmless["torch_dtype"] = "bfloat16";
  harmless["use_cache"] = false;
  harmless["bos_token_id"] = 1;
  harmless["transformers_version"] = "4.46.0";
  harmless["sliding_window"] = nullptr;
  EXPECT_TRUE(Parse(harmless).ok()) << Parse(harmless).status();
}

TEST(HfConfigTest, QuantizedCheckpointsAreRefused) {
  nlohmann::json j = Llama();
  j["quantization_config"] = {{"quant_method", "bitsandbytes"}, {"load_in_4bit", true}};
  ExpectRefused(j, {"quantization_config", "bitsandbytes", "dequantize"});
  nlohmann::json gemma = {{"architectures", {"Gemma3ForCausalLM"}},
                          {"model_type", "gemma3"},
                          {"quantization_config", {{"quant_method", "gptq"}}},
                          {"text_config", {{"model_type", "gemma3_text"}}}};
  ExpectRefused(gemma, {"quantization_config", "gptq"});
}

TEST(HfConfigTest, UnknownArchitecturesAreRefusedListingEverySupportedOne) {
  nlohmann::json j = Llama();
  j["architectures"] = {"DeepseekV3ForCausalLM"};
  ExpectRefused(
      j, {"DeepseekV3ForCausalLM", "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM",
          "Qwen3ForCausalLM", "Olmo2ForCausalLM", "Phi3ForCausalLM", "Gemma2ForCausalLM",
          "Gemma3ForCausalLM", "MixtralForCausalLM", "Qwen2MoeForCausalLM", "Qwen3MoeForCausalLM",
          "OlmoeForCausalLM", "GPT2LMHeadModel"});
}

// Windows are computed now: a sequence longer than the window trains; which layers have
// one is read as each family's transformers config class derives it.
TEST(HfConfigTest, SlidingWindowsArePerLayerAsTransformersDerivesThem) {
  nlohmann::json mistral = Llama();
  mistral["architectures"] = {"MistralForCausalLM"};
  mistral["model_type"] = "mistral";
  mistral["sliding_window"] = 32;
  auto c = Parse(mistral);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->CheckSequenceLength(33).ok());
  EXPECT_EQ(c->decoder()->WindowOf(0), 32);
  EXPECT_EQ(c->decoder()->WindowOf(1), 32);
  mistral.erase("sliding_window");  // MistralConfig's default: 4096
  EXPECT_EQ(Parse(mistral)->decoder()->WindowOf(1), 4096);
  mistral["sliding_window"] = nullptr;
  EXPECT_EQ(Parse(mistral)->decoder()->WindowOf(1), 0);
  nlohmann::json qwen = Llama();
  qwen["architectures"] = {"Qwen2ForCausalLM"};
  qwen["model_type"] = "qwen2";
  qwen["sliding_window"] = 8;
  qwen["use_sliding_window"] = false;
  c = Parse(qwen);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->decoder()->qkv_bias);
  EXPECT_FALSE(c->decoder()->o_bias);
  EXPECT_EQ(c->decoder()->WindowOf(1), 0);
  // With the window on, only layers from max_window_layers on use it.
  qwen["use_sliding_window"] = true;
  qwen["max_window_layers"] = 1;
  EXPECT_EQ(Parse(qwen)->decoder()->WindowOf(0), 0);
  EXPECT_EQ(Parse(qwen)->decoder()->WindowOf(1), 8);
  qwen["layer_types"] = {"sliding_attention", "full_attention"};
  EXPECT_EQ(Parse(qwen)->decoder()->WindowOf(0), 8) << "layer_types decides";
  EXPECT_EQ(Parse(qwen)->decoder()->WindowOf(1), 0);
  qwen["layer_types"] = {"sliding_attention", "chunked_attention"};
  ExpectRefused(qwen, {"layer_types", "chunked_attention"});
}

nlohmann::json Family(const char* architecture, const char* model_type) {
  nlohmann::json j = Llama();
  j["architectures"] = {architecture};
  j["model_type"] = model_type;
  return j;
}

// The mixtures of experts: Qwen3-30B-A3B's own config.json (its keys as the Hub has them),
// which layers are sparse (decoder_sparse_step, mlp_only_layers), each family's routing
// switches, and what zerod refuses.
TEST(HfConfigTest, MixtureOfExpertsConfigsAreReadAsTransformersReadsThem) {
  const nlohmann::json qwen3_30b = {{"architectures", {"Qwen3MoeForCausalLM"}},
                                    {"attention_bias", false},
                                    {"attention_dropout", 0.0},
                                    {"bos_token_id", 151643},
                                    {"decoder_sparse_step", 1},
                                    {"eos_token_id", 151645},
                                    {"head_dim", 128},
                                    {"hidden_act", "silu"},
                                    {"hidden_size", 2048},
                                    {"initializer_range", 0.02},
                                    {"intermediate_size", 6144},
                                    {"max_position_embeddings", 40960},
                                    {"max_window_layers", 48},
                                    {"mlp_only_layers", nlohmann::json::array()},
                                    {"model_type", "qwen3_moe"},
                                    {"moe_intermediate_size", 768},
                                    {"norm_topk_prob", true},
                                    {"num_attention_heads", 32},
                                    {"num_experts", 128},
                                    {"num_experts_per_tok", 8},
                                    {"num_hidden_layers", 48},
                                    {"num_key_value_heads", 4},
                                    {"output_router_logits", false},
                                    {"rms_norm_eps", 1e-06},
                                    {"rope_scaling", nullptr},
                                    {"rope_theta", 1000000.0},
                                    {"router_aux_loss_coef", 0.001},
                                    {"sliding_window", nullptr},
                                    {"tie_word_embeddings", false},
                                    {"torch_dtype", "bfloat16"},
                                    {"transformers_version", "4.51.0"},
                                    {"use_cache", true},
                                    {"use_sliding_window", false},
                                    {"vocab_size", 151936}};
  auto q = Parse(qwen3_30b);
  ASSERT_TRUE(q.ok()) << q.status();
  const DecoderConfig& c = *q->decoder();
  EXPECT_EQ(c.moe.num_experts, 128);
  EXPECT_EQ(c.moe.top_k, 8);
  EXPECT_EQ(c.moe.expert_intermediate_size, 768);
  EXPECT_TRUE(c.moe.norm_topk_prob);
  EXPECT_FALSE(c.moe.output_router_logits);
  for (int64_t i = 0; i < 48; ++i) EXPECT_TRUE(c.IsSparse(i)) << i;
  EXPECT_EQ(c.WindowOf(0), 0);
  // 30.5B parameters, 3.3B active: the model card's figures.
  EXPECT_NEAR(static_cast<double>(c.NumParameters()) / 1e9, 30.53, 0.01);
  EXPECT_NEAR(static_cast<double>(c.NumActiveParameters()) / 1e9, 3.35, 0.01);

  nlohmann::json step = qwen3_30b;
  step["num_hidden_layers"] = 6;
  step["decoder_sparse_step"] = 2;
  step["mlp_only_layers"] = {3};
  auto s = Parse(step);
  ASSERT_TRUE(s.ok()) << s.status();
  // Sparse when (i + 1) % step == 0 and i is not MLP-only: layers 1 and 5.
  for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(s->decoder()->IsSparse(i), i == 1 || i == 5) << i;
  step["mlp_only_layers"] = "all";
  ExpectRefused(step, {"mlp_only_layers", "list"});

  // Mixtral: always renormalised, float32 weights, the Hub's block_sparse_moe / w1 w3 w2.
  nlohmann::json mixtral = Family("MixtralForCausalLM", "mixtral");
  mixtral["num_local_experts"] = 8;
  auto m = Parse(mixtral);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_TRUE(m->decoder()->moe.norm_topk_prob);
  EXPECT_TRUE(m->decoder()->moe.weights_in_float32);
  EXPECT_EQ(m->decoder()->moe.block, "block_sparse_moe");
  EXPECT_EQ(m->decoder()->moe.gate_name, "w1");
  EXPECT_EQ(m->decoder()->moe.top_k, 2) << "MixtralConfig's default";
  EXPECT_EQ(m->decoder()->moe.expert_intermediate_size, m->decoder()->intermediate_size);
  mixtral["router_jitter_noise"] = 0.1;
  ExpectRefused(mixtral, {"router_jitter_noise", "0.1"});
  mixtral["router_jitter_noise"] = 0.0;
  mixtral["num_experts_per_tok"] = 9;
  ExpectRefused(mixtral, {"num_experts_per_tok", "9"});
  mixtral["num_experts_per_tok"] = 2;
  mixtral["num_experts"] = 4;  // attribute_map's other name, disagreeing
  ExpectRefused(mixtral, {"num_experts", "num_local_experts"});

  // OLMoE: the q/k norms over all heads, its defaults; clip_qkv is refused.
  nlohmann::json olmoe = Family("OlmoeForCausalLM", "olmoe");
  auto o = Parse(olmoe);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->decoder()->qk_norm, QkNorm::kWhole);
  EXPECT_EQ(o->decoder()->moe.num_experts, 64);
  EXPECT_EQ(o->decoder()->moe.top_k, 8);
  EXPECT_EQ(o->decoder()->moe.router_aux_loss_coef, 0.01);
  olmoe["clip_qkv"] = 8.0;
  ExpectRefused(olmoe, {"clip_qkv", "8"});

  // Qwen2-MoE: the shared expert, q/k/v biases by qkv_bias.
  nlohmann::json qwen2 = Family("Qwen2MoeForCausalLM", "qwen2_moe");
  qwen2["shared_expert_intermediate_size"] = 40;
  auto w = Parse(qwen2);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ(w->decoder()->moe.shared_expert_intermediate_size, 40);
  EXPECT_EQ(w->decoder()->moe.num_experts, 60) << "Qwen2MoeConfig's default";
  EXPECT_TRUE(w->decoder()->qkv_bias);
  EXPECT_FALSE(w->decoder()->o_bias);
}

TEST(HfConfigTest, EachFamilyReadsItsKeysWithTransformersDefaults) {
  auto qwen3 = Parse(Family("Qwen3ForCausalLM", "qwen3"));
  ASSERT_TRUE(qwen3.ok()) << qwen3.status();
  EXPECT_EQ(qwen3->decoder()->head_dim, 128) << "Qwen3Config's default, not hidden / heads";
  EXPECT_EQ(qwen3->decoder()->qk_norm, QkNorm::kPerHead);
  auto olmo2 = Parse(Family("Olmo2ForCausalLM", "olmo2"));
  ASSERT_TRUE(olmo2.ok()) << olmo2.status();
  EXPECT_EQ(olmo2->decoder()->qk_norm, QkNorm::kWhole);
  EXPECT_TRUE(olmo2->decoder()->norms.before_attention.empty());
  EXPECT_EQ(olmo2->decoder()->norms.after_mlp, "post_feedforward_layernorm.weight");
  EXPECT_EQ(olmo2->decoder()->rms_norm_eps, 1e-5);
  // transformers' nn.Embedding(padding_idx=pad_token_id): that row gets no gradient.
  EXPECT_EQ(olmo2->decoder()->pad_token_id, 1) << "Olmo2Config's default";
  EXPECT_EQ(Parse(Llama())->decoder()->pad_token_id, -1) << "LlamaConfig's default: None";
  nlohmann::json pad = Llama();
  pad["pad_token_id"] = -1;  // counted from the end, as nn.Embedding does
  EXPECT_EQ(Parse(pad)->decoder()->pad_token_id, 63);
  pad["pad_token_id"] = 64;
  ExpectRefused(pad, {"pad_token_id", "64"});
  nlohmann::json phi3 = Family("Phi3ForCausalLM", "phi3");
  phi3["partial_rotary_factor"] = 0.5;
  phi3["original_max_position_embeddings"] = 16;
  phi3["rope_scaling"] = {{"type", "su"},  // Phi-3's first configs
                          {"short_factor", {1.0, 1.0}},
                          {"long_factor", {2.0, 2.0}},
                          {"original_max_position_embeddings", 99}};
  auto c = Parse(phi3);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->decoder()->fused_qkv && c->decoder()->fused_gate_up);
  EXPECT_EQ(c->decoder()->rope.type, RopeType::kLongrope);
  EXPECT_EQ(c->decoder()->rope.partial_rotary_factor, 0.5);
  EXPECT_EQ(c->decoder()->rope.original_max_position_embeddings, 16) << "the top level wins";
  phi3["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}};
  ExpectRefused(phi3, {"rope_scaling.rope_type", "linear", "\"longrope\""});
  nlohmann::json gemma2 = Family("Gemma2ForCausalLM", "gemma2");
  gemma2["final_logit_softcapping"] = nullptr;
  c = Parse(gemma2);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->decoder()->attn_softcap, 50.0);
  EXPECT_EQ(c->decoder()->final_softcap, 0.0) << "null turns it off";
  EXPECT_EQ(c->decoder()->query_pre_attn_scalar, 256.0);
  EXPECT_EQ(c->decoder()->WindowOf(0), 4096);
  EXPECT_EQ(c->decoder()->WindowOf(1), 0);
  EXPECT_TRUE(c->decoder()->tie_word_embeddings);
  gemma2["use_bidirectional_attention"] = true;
  ExpectRefused(gemma2, {"use_bidirectional_attention"});
}

// Gemma 3: the legacy keys (rope_local_base_freq, sliding_window_pattern, rope_scaling for
// the global layers), and a composite "gemma3" config read from its text_config.
TEST(HfConfigTest, Gemma3ReadsLegacyKeysAndANestedTextConfig) {
  nlohmann::json text = Family("Gemma3ForCausalLM", "gemma3_text");
  text["num_hidden_layers"] = 4;
  text["sliding_window"] = 8;
  text["sliding_window_pattern"] = 2;
  text["rope_theta"] = 1e5;
  text["rope_local_base_freq"] = 1e3;
  text["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 8.0}};
  auto c = Parse(text);
  ASSERT_TRUE(c.ok()) << c.status();
  const DecoderConfig& d = *c->decoder();
  EXPECT_EQ(d.WindowOf(0), 8);
  EXPECT_EQ(d.WindowOf(1), 0);
  EXPECT_EQ(d.RopeOf(0).theta, 1e3);
  EXPECT_EQ(d.RopeOf(0).type, RopeType::kDefault);
  EXPECT_EQ(d.RopeOf(1).theta, 1e5);
  EXPECT_EQ(d.RopeOf(1).type, RopeType::kLinear);
  EXPECT_EQ(d.RopeOf(1).factor, 8.0);
  text.erase("architectures");
  nlohmann::json composite = {{"architectures", {"Gemma3ForCausalLM"}},
                              {"model_type", "gemma3"},
                              {"vision_config", {{"model_type", "siglip_vision_model"}}},
                              {"text_config", text}};
  c = Parse(composite);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->decoder()->num_hidden_layers, 4);
  EXPECT_EQ(c->decoder()->RopeOf(0).theta, 1e3);
  composite["text_config"]["attn_logit_softcap"] = 1.0;
  ExpectRefused(composite, {"text_config.attn_logit_softcap"});
}

TEST(HfConfigTest, Gpt2OptionsZerodDoesNotImplementAreRefusedByName) {
  auto c = Parse(Gpt2());
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->gpt2()->n_inner, 128);
  EXPECT_TRUE(c->gpt2()->tie_word_embeddings);
  for (auto [key, value] :
       {std::pair<const char*, nlohmann::json>{"scale_attn_by_inverse_layer_idx", true},
        {"reorder_and_upcast_attn", true},
        {"add_cross_attention", true},
        {"activation_function", "relu"}}) {
    nlohmann::json bad = Gpt2();
    bad[key] = value;
    ExpectRefused(bad, {key});
  }
  EXPECT_NE(Parse(Gpt2()).value().CheckSequenceLength(65).message().find("n_positions"),
            std::string::npos);
}

TEST(HfConfigTest, DropoutInStockConfigsIsAcceptedWithANote) {
  nlohmann::json gpt2 = Gpt2();
  gpt2["resid_pdrop"] = 0.1;  // as the Hub's gpt2 config.json has it
  auto c = Parse(gpt2);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_NE(c->DropoutNote().find("without dropout"), std::string::npos);
  nlohmann::json llama = Llama();
  llama["attention_dropout"] = 0.1;
  ASSERT_TRUE(Parse(llama).ok());
  EXPECT_FALSE(Parse(llama)->DropoutNote().empty());
  EXPECT_TRUE(Parse(Llama())->DropoutNote().empty());
}

}  // namespace
}  // namespace zerod::models
