// YAML job files (engine/config/job_file.h): every key read into the JobSpec, an unknown
// key refused with the closest known one, a wrong type named with its line.
#include "engine/config/job_file.h"

#include <gtest/gtest.h>

namespace zerod::config {
namespace {

TEST(JobFileTest, AFullFileFillsTheJobSpec) {
  auto f = ParseJobFile(R"(
model: m
ds_config: ds.json
data: tokens.bin
data_dtype: uint32
steps: 50
seq-len: 256
seed: 7
activation_checkpointing: true
resume: ckpt
save_dir: out
save_every: 10
keep_checkpoints: 3
micro_batch_size: 2
grad_accum: 4
lr: 3.0e-4
warmup_steps: 5
precision: bf16
export_hf: hf
name: nightly
)",
                        "job.yaml");
  ASSERT_TRUE(f.ok()) << f.status();
  const JobSpec& s = *f;
  EXPECT_EQ(s.model_dir, "m");
  EXPECT_EQ(s.ds_config_path, "ds.json");
  EXPECT_EQ(s.data_path, "tokens.bin");
  EXPECT_EQ(s.data_dtype, "uint32");
  EXPECT_EQ(s.steps, 50);
  EXPECT_EQ(s.seq_len, 256);
  EXPECT_EQ(s.seed, 7u);
  EXPECT_EQ(s.activation_checkpointing, "true");  // on
  EXPECT_EQ(s.resume_from, "ckpt");
  EXPECT_EQ(s.save_dir, "out");
  EXPECT_EQ(s.save_every, 10);
  EXPECT_EQ(s.keep_checkpoints, 3);
  EXPECT_EQ(s.micro_batch_size, 2);
  EXPECT_EQ(s.grad_accum, 4);
  EXPECT_DOUBLE_EQ(*s.lr, 3e-4);
  EXPECT_EQ(s.warmup_steps, 5);
  EXPECT_EQ(s.precision, "bf16");
  EXPECT_EQ(s.export_hf_dir, "hf");
  EXPECT_EQ(s.name, "nightly");
}

TEST(JobFileTest, AnUnknownKeyIsRefusedWithTheClosestKnownOne) {
  auto f = ParseJobFile("model: m\nstesp: 10\n", "job.yaml");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("job.yaml:2: stesp is not a job setting; did you mean "
                                      "\"steps\"?"),
            std::string::npos)
      << f.status();
}

TEST(JobFileTest, AWrongTypeIsNamedWithItsLine) {
  auto f = ParseJobFile("model: m\n\nsteps: many\n", "job.yaml");
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("job.yaml:3: steps must be a whole number, got \"many\""),
            std::string::npos)
      << f.status();
  auto list = ParseJobFile("seq_len: [1, 2]\n", "job.yaml");
  ASSERT_FALSE(list.ok());
  EXPECT_NE(list.status().message().find("job.yaml:1: seq_len must be a whole number"),
            std::string::npos)
      << list.status();
  EXPECT_FALSE(ParseJobFile("- a\n- b\n", "job.yaml").ok());
  EXPECT_FALSE(ParseJobFile("model: [unclosed\n", "job.yaml").ok());
  EXPECT_EQ(LoadJobFile("/no/such/job.yaml").status().code(), absl::StatusCode::kNotFound);
}

TEST(JobFileTest, TheShippedJobFilesParse) {
  for (const char* name : {"demo.yaml", "llama-7b.yaml"}) {
    auto f = LoadJobFile(std::string(ZEROD_SOURCE_DIR) + "/configs/jobs/" + name);
    EXPECT_TRUE(f.ok()) << name << ": " << f.status();
  }
}

}  // namespace
}  // namespace zerod::config
