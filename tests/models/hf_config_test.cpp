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
  EXPECT_EQ(c->llama()->head_dim, 16);
  EXPECT_TRUE(c->llama()->tie_word_embeddings);
  EXPECT_TRUE(c->llama()->qkv_bias && c->llama()->o_bias);
  for (auto [key, value] : {std::pair<const char*, nlohmann::json>{"hidden_act", "gelu"},
                            {"pretraining_tp", 2}}) {
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
  EXPECT_EQ(c->llama()->rope_scaling.type, RopeType::kLlama3);
  EXPECT_EQ(c->llama()->rope_theta, 500000.0);
  EXPECT_EQ(c->llama()->rope_scaling.original_max_position_embeddings, 8192);
  nlohmann::json legacy = Llama();
  legacy["rope_theta"] = 1e6;
  legacy["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  c = Parse(legacy);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->llama()->rope_scaling.type, RopeType::kLinear);
  EXPECT_EQ(c->llama()->rope_scaling.factor, 2.0);
  EXPECT_EQ(c->llama()->rope_theta, 1e6);
}

TEST(HfConfigTest, UnimplementedRopeTypesAreRefusedByName) {
  nlohmann::json j = Llama();
  j["rope_parameters"] = {{"rope_type", "yarn"}, {"rope_theta", 1e4}, {"factor", 4.0}};
  ExpectRefused(j, {"rope_parameters.rope_type", "yarn"});
  nlohmann::json legacy = Llama();
  legacy["rope_scaling"] = {{"type", "dynamic"}, {"factor", 2.0}};
  ExpectRefused(legacy, {"rope_scaling.type", "dynamic"});
  nlohmann::json partial = Llama();
  partial["rope_parameters"] = {{"rope_type", "default"}, {"partial_rotary_factor", 0.5}};
  ExpectRefused(partial, {"partial_rotary_factor"});
}

TEST(HfConfigTest, SlidingWindowIsRefusedOnlyWhenItWouldMaskSomething) {
  nlohmann::json mistral = Llama();
  mistral["architectures"] = {"MistralForCausalLM"};
  mistral["model_type"] = "mistral";
  mistral["sliding_window"] = 32;
  auto c = Parse(mistral);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->CheckSequenceLength(32).ok());
  absl::Status s = c->CheckSequenceLength(33);
  EXPECT_NE(s.message().find("sliding_window 32"), std::string::npos) << s;
  nlohmann::json qwen = Llama();
  qwen["architectures"] = {"Qwen2ForCausalLM"};
  qwen["model_type"] = "qwen2";
  qwen["sliding_window"] = 8;
  qwen["use_sliding_window"] = false;
  c = Parse(qwen);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->llama()->qkv_bias);
  EXPECT_FALSE(c->llama()->o_bias);
  EXPECT_TRUE(c->CheckSequenceLength(2048).ok());
  // With the window on, only layers from max_window_layers on use it.
  qwen["use_sliding_window"] = true;
  qwen["max_window_layers"] = qwen["num_hidden_layers"];
  EXPECT_TRUE(Parse(qwen)->CheckSequenceLength(2048).ok()) << "no layer is windowed";
  qwen["max_window_layers"] = 0;
  EXPECT_FALSE(Parse(qwen)->CheckSequenceLength(9).ok());
  qwen["layer_types"] = {"full_attention", "full_attention"};
  EXPECT_TRUE(Parse(qwen)->CheckSequenceLength(2048).ok()) << "layer_types decides";
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
