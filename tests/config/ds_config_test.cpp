#include "engine/config/ds_config.h"

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace zerod::config {
namespace {

std::string ShippedConfigPath() {
  return std::string(ZEROD_SOURCE_DIR) + "/configs/ds_zero3_offload.json";
}

absl::StatusOr<DsConfig> Parse(const std::string& text, int world = 2) {
  return ParseDsConfig(text, world, "test.json");
}

TEST(DsConfigTest, ShippedOffloadConfigParsesAsZero3WithBothOffloads) {
  auto c = LoadDsConfig(ShippedConfigPath(), 2);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->zero.stage, 3);
  EXPECT_TRUE(c->zero.offload_param.to_cpu());
  EXPECT_TRUE(c->zero.offload_optimizer.to_cpu());
  EXPECT_TRUE(c->zero.offload_param.pin_memory);
  EXPECT_EQ(c->compute_dtype, DType::kFloat16);
  EXPECT_TRUE(c->loss_scaler.dynamic);
  EXPECT_EQ(c->train_batch_size, 16);
  EXPECT_EQ(c->micro_batch_per_gpu, 4);
  EXPECT_EQ(c->gradient_accumulation_steps, 2);  // "auto": 16 / (4 * 2)
  EXPECT_EQ(c->zero.param_persistence_threshold, 1'000'000);
  EXPECT_EQ(c->scheduler.type, optim::LrScheduleConfig::Type::kWarmupLR);
  EXPECT_DOUBLE_EQ(c->adamw.beta2, 0.999);
}

TEST(DsConfigTest, BatchArithmeticThatDoesNotAddUpNamesTheNumbers) {
  auto c = Parse(R"({"train_batch_size": 32, "train_micro_batch_size_per_gpu": 4,
                     "gradient_accumulation_steps": 2, "zero_optimization": {"stage": 3}})");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("32 != train_micro_batch_size_per_gpu 4 * "
                                      "gradient_accumulation_steps 2 * world size 2 = 16"),
            std::string::npos)
      << c.status();
}

TEST(DsConfigTest, DerivesTheMissingBatchTerm) {
  auto c = Parse(
      R"({"train_batch_size": 24, "gradient_accumulation_steps": 3, "zero_optimization": {"stage": 3}})",
      4);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->micro_batch_per_gpu, 2);
  auto d = Parse(R"({"train_micro_batch_size_per_gpu": 2, "zero_optimization": {"stage": 3}})", 4);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->train_batch_size, 8);
  EXPECT_FALSE(Parse(R"({"train_batch_size": 10, "zero_optimization": {"stage": 3}})", 4).ok());
}

TEST(DsConfigTest, RefusesOtherStagesWithTheFix) {
  auto c = Parse(R"({"train_batch_size": 2, "zero_optimization": {"stage": 2}})");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("zero_optimization.stage is 2"), std::string::npos)
      << c.status();
  EXPECT_NE(c.status().message().find("\"stage\": 3"), std::string::npos);
}

// DeepSpeed ignores keys it does not know: so does zerod, with a note, unless the key is
// a near miss of a known one (a misspelling would change training silently).
TEST(DsConfigTest, AMisspeltKeyIsRefusedNamingTheKnownOne) {
  auto c = Parse(R"({"train_batch_size": 2, "gradient_clippping": 1.0,
                     "zero_optimization": {"stage": 3}})");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("gradient_clippping is not a DeepSpeed setting; did you "
                                      "mean \"gradient_clipping\"?"),
            std::string::npos)
      << c.status();
  auto nested = Parse(R"({"train_batch_size": 2, "zero_optimization": {"stage": 3,
                          "stage3_prefetch_bucket_sise": 5e8}})");
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.status().message().find("zero_optimization.stage3_prefetch_bucket_sise"),
            std::string::npos)
      << nested.status();
  EXPECT_NE(nested.status().message().find("\"stage3_prefetch_bucket_size\""), std::string::npos);
  auto offload = Parse(R"({"train_batch_size": 2, "zero_optimization": {"stage": 3,
                           "offload_optimizer": {"device": "cpu", "ratoi": 0.3}}})");
  ASSERT_FALSE(offload.ok());
  EXPECT_NE(offload.status().message().find("did you mean \"ratio\""), std::string::npos)
      << offload.status();
}

TEST(DsConfigTest, AnUnknownKeyFarFromAnyKnownOneIsIgnoredWithANote) {
  auto c = Parse(R"({"train_batch_size": 2, "my_project_tag": "run-7",
                     "zero_optimization": {"stage": 3, "stage3_magic_knob": 1}})");
  ASSERT_TRUE(c.ok()) << c.status();
  int mentioned = 0;
  for (const std::string& note : c->notes) {
    if (note.find("zero_optimization.stage3_magic_knob is not a setting zerod knows; ignored") !=
            std::string::npos ||
        note.find("my_project_tag is not a setting zerod knows") != std::string::npos) {
      ++mentioned;
    }
  }
  EXPECT_EQ(mentioned, 2);
}

TEST(DsConfigTest, RefusesUnsupportedFeaturesClearly) {
  auto nvme = Parse(R"({"train_batch_size": 2, "zero_optimization": {"stage": 3,
                        "offload_param": {"device": "nvme"}}})");
  ASSERT_FALSE(nvme.ok());
  EXPECT_NE(nvme.status().message().find("offload_param.device is \"nvme\""), std::string::npos);
  auto both = Parse(R"({"train_batch_size": 2, "fp16": {"enabled": true}, "bf16": {"enabled": true},
                        "zero_optimization": {"stage": 3}})");
  EXPECT_FALSE(both.ok());
  auto sgd = Parse(
      R"({"train_batch_size": 2, "optimizer": {"type": "SGD"}, "zero_optimization": {"stage": 3}})");
  ASSERT_FALSE(sgd.ok());
  EXPECT_NE(sgd.status().message().find("optimizer.type is \"SGD\""), std::string::npos);
  auto cosine = Parse(
      R"({"train_batch_size": 2, "scheduler": {"type": "WarmupCosineLR"}, "zero_optimization": {"stage": 3}})");
  ASSERT_FALSE(cosine.ok());  // no total_num_steps, and no --steps to fill "auto" from
  EXPECT_NE(cosine.status().message().find("total_num_steps is required"), std::string::npos);
  EXPECT_FALSE(Parse("{not json").ok());
  EXPECT_FALSE(Parse(R"({"train_batch_size": "many", "zero_optimization": {"stage": 3}})").ok());
  EXPECT_FALSE(Parse(R"({"train_batch_size": 2})").ok());  // no zero_optimization
}

// The opt-in delayed update: off by default with a warm-up of 40; on, it says at the start
// that it changes the math; with the serial optimizer or the speculative update it is
// refused naming both keys.
TEST(DsConfigTest, DelayedUpdateIsOptInAndRefusedWithWhatItExcludes) {
  auto off = Parse(R"({"train_batch_size": 2, "zero_optimization": {"stage": 3}})");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->zero.delayed_update);
  EXPECT_EQ(off->zero.delayed_update_warmup_steps, 40);
  auto on = Parse(R"({"train_batch_size": 2, "zero_optimization": {"stage": 3,
                      "zerod_delayed_update": true, "zerod_delayed_update_warmup_steps": 5}})");
  ASSERT_TRUE(on.ok()) << on.status();
  EXPECT_TRUE(on->zero.delayed_update);
  EXPECT_EQ(on->zero.delayed_update_warmup_steps, 5);
  bool noted = false;
  for (const std::string& n : on->notes) noted |= n.find("changes the math") != std::string::npos;
  EXPECT_TRUE(noted);
  for (const char* other :
       {R"("zerod_overlap_optimizer": false)", R"("zerod_speculative_update": true)",
        R"("zerod_derived_host_weights": true)"}) {
    auto both = Parse(absl::StrCat(R"({"train_batch_size": 2, "zero_optimization": {"stage": 3,
                      "zerod_delayed_update": true, )",
                                   other, "}}"));
    ASSERT_FALSE(both.ok()) << other;
    EXPECT_NE(both.status().message().find("zerod_delayed_update"), std::string::npos);
    EXPECT_NE(both.status().message().find(std::string(other).substr(1, 20)), std::string::npos)
        << both.status();
  }
  EXPECT_FALSE(Parse(R"({"train_batch_size": 2, "zero_optimization": {"stage": 3,
                         "zerod_delayed_update_warmup_steps": -1}})")
                   .ok());
}

// "zerod_derived_host_weights": "auto" (absent too) leaves the choice to the plan; true and
// false force it; anything else is refused by name.
TEST(DsConfigTest, DerivedHostWeightsAreAutoUnlessSet) {
  auto zero = [](const std::string& value) {
    return Parse(absl::StrCat(R"({"train_batch_size": 2, "zero_optimization": {"stage": 3)",
                              value.empty() ? "" : R"(, "zerod_derived_host_weights": )" + value,
                              "}}"));
  };
  for (const char* absent : {"", R"("auto")"}) {
    auto c = zero(absent);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_FALSE(c->zero.derived_host_weights.has_value()) << absent;
  }
  EXPECT_EQ(zero("true")->zero.derived_host_weights, true);
  EXPECT_EQ(zero("false")->zero.derived_host_weights, false);
  auto bad = zero(R"("sometimes")");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("zero_optimization.zerod_derived_host_weights"),
            std::string::npos)
      << bad.status();
}

// Found by fuzzing (tests/fuzz/corpus/ds_config/crash_*): numbers past what a setting or
// a double can hold are refused by name instead of throwing or overflowing.
TEST(DsConfigTest, NumbersTooLargeAreRefusedNotOverflowed) {
  auto huge = Parse(R"({"train_batch_size": 1e400, "zero_optimization": {"stage": 3}})");
  ASSERT_FALSE(huge.ok());
  EXPECT_NE(huge.status().message().find("test.json"), std::string::npos) << huge.status();
  for (const char* value : {"9223372036854775808", "9.223372036854775807e18", "-1e19"}) {
    auto c = Parse(
        absl::StrCat(R"({"train_batch_size": )", value, R"(, "zero_optimization": {"stage": 3}})"));
    ASSERT_FALSE(c.ok()) << value;
    EXPECT_NE(c.status().message().find("train_batch_size"), std::string::npos) << c.status();
  }
  auto product = Parse(R"({"train_batch_size": 9223372036854775807,
                           "train_micro_batch_size_per_gpu": 9223372036854775807,
                           "zero_optimization": {"stage": 3}})");
  EXPECT_FALSE(product.ok());
}

TEST(DsConfigTest, InvalidJsonNamesLineAndColumn) {
  auto bad = ParseDsConfig("{\n  \"train_batch_size\": 4,\n  \"bf16\": {\"enabled\": tru}\n}", 1,
                           "ds.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("ds.json: not valid JSON at line 3, column"),
            std::string::npos)
      << bad.status();
}

TEST(DsConfigTest, MissingFileIsNotFound) {
  auto c = LoadDsConfig("/nonexistent/ds.json", 1);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find("/nonexistent/ds.json"), std::string::npos);
}

TEST(DsConfigTest, Bf16AndStaticFp16Scale) {
  auto bf = Parse(
      R"({"train_batch_size": 2, "bf16": {"enabled": true}, "zero_optimization": {"stage": 3}})");
  ASSERT_TRUE(bf.ok());
  EXPECT_EQ(bf->compute_dtype, DType::kBFloat16);
  EXPECT_FALSE(bf->loss_scaler.dynamic);
  auto st = Parse(
      R"({"train_batch_size": 2, "fp16": {"enabled": true, "loss_scale": 128}, "zero_optimization": {"stage": 3}})");
  ASSERT_TRUE(st.ok());
  EXPECT_FALSE(st->loss_scaler.dynamic);
  EXPECT_EQ(st->loss_scaler.static_scale, 128.0);
}

}  // namespace
}  // namespace zerod::config
