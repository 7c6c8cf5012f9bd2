// DeepSpeed configs as users bring them: Hugging Face's "auto" ZeRO-3 offload config, the
// DeepSpeed tutorial's ZeRO-3 offload config, a LLaMA-Factory-style config with monitor
// sections, and a partial optimizer offload (tests/fixtures/ds_configs). "auto" is filled
// as Hugging Face's Trainer fills it; what zerod cannot honour is refused with what to use.
#include <gtest/gtest.h>

#include "engine/config/ds_config.h"

namespace zerod::config {
namespace {

std::string Fixture(const std::string& name) {
  return std::string(ZEROD_SOURCE_DIR) + "/tests/fixtures/ds_configs/" + name;
}

absl::StatusOr<DsConfig> Parse(const std::string& text, const JobValues& job = {}, int world = 2) {
  return ParseDsConfig(text, world, "test.json", job);
}

bool NotesMention(const DsConfig& c, const std::string& text) {
  for (const std::string& n : c.notes)
    if (n.find(text) != std::string::npos) return true;
  return false;
}

TEST(DsCompatTest, HuggingFaceAutoConfigTakesTheJobsValues) {
  JobValues job;
  job.micro_batch = 4;
  job.grad_accum = 2;
  job.lr = 2e-4;
  job.warmup_steps = 10;
  job.hidden_size = 1024;
  job.default_precision = DType::kBFloat16;  // a GPU with bf16
  auto c = LoadDsConfig(Fixture("hf_zero3_auto_offload.json"), 2, job);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->micro_batch_per_gpu, 4);
  EXPECT_EQ(c->gradient_accumulation_steps, 2);
  EXPECT_EQ(c->train_batch_size, 16);  // 4 x 2 x world 2
  EXPECT_DOUBLE_EQ(c->gradient_clipping, 1.0);
  EXPECT_EQ(c->compute_dtype, DType::kBFloat16);
  EXPECT_DOUBLE_EQ(c->adamw.lr, 2e-4);
  EXPECT_DOUBLE_EQ(c->adamw.beta1, 0.9);
  EXPECT_DOUBLE_EQ(c->adamw.beta2, 0.999);
  EXPECT_DOUBLE_EQ(c->adamw.eps, 1e-8);
  EXPECT_DOUBLE_EQ(c->adamw.weight_decay, 0.0);
  EXPECT_EQ(c->scheduler.warmup_num_steps, 10);
  EXPECT_DOUBLE_EQ(c->scheduler.warmup_max_lr, 2e-4);
  EXPECT_DOUBLE_EQ(c->scheduler.warmup_min_lr, 0.0);
  // Bucket sizes from the hidden size, as DeepSpeed documents them.
  EXPECT_EQ(c->zero.reduce_bucket_size, 1024 * 1024);
  EXPECT_EQ(c->zero.prefetch_bucket_size, static_cast<int64_t>(0.9 * 1024 * 1024));
  EXPECT_EQ(c->zero.param_persistence_threshold, 10 * 1024);
  EXPECT_TRUE(NotesMention(*c, "\"auto\" filled from the job: train_micro_batch_size_per_gpu 4"));
}

TEST(DsCompatTest, AutoWithoutFlagsTakesTrainerDefaultsAndCpuFp32) {
  auto c = LoadDsConfig(Fixture("hf_zero3_auto_offload.json"), 1, JobValues{});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->micro_batch_per_gpu, 8);
  EXPECT_EQ(c->gradient_accumulation_steps, 1);
  EXPECT_EQ(c->compute_dtype, DType::kFloat32);
  EXPECT_DOUBLE_EQ(c->adamw.lr, 5e-5);
}

TEST(DsCompatTest, PrecisionFlagFillsAutoAndMustAgreeWithAnExplicitSwitch) {
  JobValues fp16;
  fp16.precision = DType::kFloat16;
  auto c = LoadDsConfig(Fixture("hf_zero3_auto_offload.json"), 1, fp16);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->compute_dtype, DType::kFloat16);
  EXPECT_TRUE(c->loss_scaler.dynamic);
  JobValues bf16;
  bf16.precision = DType::kBFloat16;
  auto clash = Parse(R"({"train_batch_size": 2, "fp16": {"enabled": true},
                         "zero_optimization": {"stage": 3}})",
                     bf16);
  ASSERT_FALSE(clash.ok());
  EXPECT_NE(clash.status().message().find("but --precision is bfloat16"), std::string::npos)
      << clash.status();
}

TEST(DsCompatTest, AFlagThatContradictsAnExplicitValueIsRefused) {
  JobValues job;
  job.micro_batch = 2;
  auto c =
      Parse(R"({"train_micro_batch_size_per_gpu": 4, "zero_optimization": {"stage": 3}})", job);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(
      c.status().message().find("train_micro_batch_size_per_gpu is 4 but --micro-batch-size is 2"),
      std::string::npos)
      << c.status();
}

TEST(DsCompatTest, DeepSpeedTutorialConfigParsesAsWritten) {
  auto c = LoadDsConfig(Fixture("deepspeed_tutorial_zero3_offload.json"), 2);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->train_batch_size, 8);
  EXPECT_EQ(c->compute_dtype, DType::kFloat16);
  EXPECT_DOUBLE_EQ(c->adamw.beta1, 0.8);
  EXPECT_DOUBLE_EQ(c->adamw.weight_decay, 3e-7);
  EXPECT_EQ(c->zero.prefetch_bucket_size, 10'000'000);
  EXPECT_TRUE(c->zero.offload_param.to_cpu());
  EXPECT_TRUE(c->notes.empty()) << c->notes.front();
}

TEST(DsCompatTest, LlamaFactoryConfigWithMonitorsIsAcceptedWithNotes) {
  JobValues job;
  job.micro_batch = 2;
  auto c = LoadDsConfig(Fixture("llama_factory_z3_offload_monitor.json"), 2, job);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->zero.overlap_comm);
  // The monitors are honoured (engine/monitor/): no note, their directory as DeepSpeed's.
  EXPECT_TRUE(c->tensorboard.enabled);
  EXPECT_EQ(c->tensorboard.Dir(), "output/ds_logs/train_llama");
  EXPECT_TRUE(c->csv_monitor.enabled);
  EXPECT_EQ(c->csv_monitor.Dir(), "output/ds_logs/train_llama");
  EXPECT_FALSE(NotesMention(*c, "tensorboard"));
  EXPECT_FALSE(NotesMention(*c, "csv_monitor"));
  EXPECT_TRUE(NotesMention(*c, "comms_logger is enabled"));
  EXPECT_TRUE(NotesMention(*c, "no optimizer section: AdamW"));
}

TEST(DsCompatTest, MonitorSectionsTakeDeepSpeedsDefaultsAndRefuseMisspeltKeys) {
  auto absent = Parse(R"({"train_batch_size": 2, "zero_optimization": {"stage": 3}})");
  ASSERT_TRUE(absent.ok()) << absent.status();
  EXPECT_FALSE(absent->tensorboard.enabled);
  EXPECT_FALSE(absent->csv_monitor.enabled);
  // DeepSpeed's defaults: output_path "" (the working directory), job_name
  // "DeepSpeedJobName".
  auto bare = Parse(R"({"train_batch_size": 2, "tensorboard": {"enabled": true},
                        "zero_optimization": {"stage": 3}})");
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_TRUE(bare->tensorboard.enabled);
  EXPECT_EQ(bare->tensorboard.Dir(), "DeepSpeedJobName");
  EXPECT_FALSE(NotesMention(*bare, "tensorboard"));
  auto typo = Parse(R"({"train_batch_size": 2, "csv_monitor": {"enabled": true, "job_nme": "x"},
                        "zero_optimization": {"stage": 3}})");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.status().message().find("job_name"), std::string::npos) << typo.status();
  auto wrong_type = Parse(R"({"train_batch_size": 2, "tensorboard": {"output_path": 3},
                              "zero_optimization": {"stage": 3}})");
  ASSERT_FALSE(wrong_type.ok());
  EXPECT_NE(wrong_type.status().message().find("tensorboard.output_path"), std::string::npos)
      << wrong_type.status();
}

TEST(DsCompatTest, PartialOptimizerOffloadKeepsItsRatio) {
  auto c = LoadDsConfig(Fixture("zero3_offload_ratio.json"), 2);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->zero.offload_optimizer.ratio.has_value());
  EXPECT_DOUBLE_EQ(*c->zero.offload_optimizer.ratio, 0.3);
  EXPECT_FALSE(c->zero.offload_param.to_cpu());
}

TEST(DsCompatTest, UnsupportedSchedulersAndFeaturesSayWhatToUse) {
  auto one_cycle = Parse(R"({"train_batch_size": 2, "scheduler": {"type": "OneCycle"},
                             "zero_optimization": {"stage": 3}})");
  ASSERT_FALSE(one_cycle.ok());
  EXPECT_NE(one_cycle.status().message().find("use one of them"), std::string::npos);
  EXPECT_NE(one_cycle.status().message().find("WarmupCosineLR"), std::string::npos);
  auto wandb = Parse(R"({"train_batch_size": 2, "wandb": {"enabled": true},
                         "zero_optimization": {"stage": 3}})");
  ASSERT_FALSE(wandb.ok());
  EXPECT_NE(wandb.status().message().find("enable \"tensorboard\" instead"), std::string::npos)
      << wandb.status();
  auto comet = Parse(R"({"train_batch_size": 2, "comet": {"enabled": true},
                         "zero_optimization": {"stage": 3}})");
  ASSERT_FALSE(comet.ok());
  EXPECT_NE(comet.status().message().find("enable \"tensorboard\" instead"), std::string::npos)
      << comet.status();
  auto quantized = Parse(R"({"train_batch_size": 2,
                             "zero_optimization": {"stage": 3, "zero_quantized_weights": true}})");
  ASSERT_FALSE(quantized.ok());
  EXPECT_NE(quantized.status().message().find("zero_quantized_weights is true"), std::string::npos);
  auto hpz = Parse(R"({"train_batch_size": 2,
                       "zero_optimization": {"stage": 3, "zero_hpz_partition_size": 8}})");
  EXPECT_FALSE(hpz.ok());
  auto hpz_one = Parse(R"({"train_batch_size": 2,
                           "zero_optimization": {"stage": 3, "zero_hpz_partition_size": 1}})");
  EXPECT_TRUE(hpz_one.ok()) << hpz_one.status();
  auto seq = Parse(R"({"train_batch_size": 2, "seq_parallel_size": 2,
                       "zero_optimization": {"stage": 3}})");
  ASSERT_FALSE(seq.ok());
  EXPECT_NE(seq.status().message().find("no sequence parallelism"), std::string::npos);
  auto amsgrad = Parse(R"({"train_batch_size": 2, "optimizer": {"type": "AdamW",
                           "params": {"amsgrad": true}}, "zero_optimization": {"stage": 3}})");
  EXPECT_FALSE(amsgrad.ok());
  auto accum = Parse(R"({"train_batch_size": 2, "data_types": {"grad_accum_dtype": "bf16"},
                         "zero_optimization": {"stage": 3}})");
  EXPECT_FALSE(accum.ok());
}

TEST(DsCompatTest, KeysThatDoNotChangeTrainingAreAcceptedWithANoteOnce) {
  auto c = Parse(R"({"train_batch_size": 2, "communication_data_type": "fp32",
                     "prescale_gradients": true, "checkpoint": {"tag_validation": "Warn"},
                     "activation_checkpointing": {"partition_activations": true},
                     "zero_optimization": {"stage": 3, "offload_param": {"device": "cpu",
                       "buffer_count": 5, "max_in_cpu": 1e9},
                       "offload_optimizer": {"device": "cpu", "fast_init": false}}})");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(NotesMention(*c, "communication_data_type"));
  EXPECT_TRUE(NotesMention(*c, "prescale_gradients"));
  EXPECT_TRUE(NotesMention(*c, "checkpoint is not used"));
  EXPECT_TRUE(NotesMention(*c, "partition_activations"));
}

TEST(DsCompatTest, WarmupCosineTakesTotalStepsFromTheJob) {
  JobValues job;
  job.total_steps = 500;
  auto c = Parse(R"({"train_batch_size": 2, "optimizer": {"params": {"lr": 1e-4}},
                     "scheduler": {"type": "WarmupCosineLR", "params": {"total_num_steps": "auto",
                       "warmup_num_steps": 50, "cos_min_ratio": 0.1}},
                     "zero_optimization": {"stage": 3}})",
                 job);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->scheduler.type, optim::LrScheduleConfig::Type::kWarmupCosineLR);
  EXPECT_EQ(c->scheduler.total_num_steps, 500);
  EXPECT_DOUBLE_EQ(c->scheduler.cos_min_ratio, 0.1);
  EXPECT_DOUBLE_EQ(c->scheduler.lr, 1e-4);
}

}  // namespace
}  // namespace zerod::config
