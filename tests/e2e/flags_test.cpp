// zerod's and zeroctl's flags as users type them (daemon/modes.h, engine/config/job_flags.h):
// --help grouped by mode, a bad value refused with one message by both binaries and the
// YAML file, an unknown flag answered with the closest, Trainer's spellings accepted and
// the ones zerod does otherwise refused naming zerod's; a one-shot run under mpirun with a
// save directory says in its first line how to stop with a checkpoint.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/e2e/run_zerod.h"

namespace zerod::e2e {
namespace {

namespace fs = std::filesystem;

Result Zerod(const std::string& args) {
  return RunCommand(std::string("timeout 60 ") + ZEROD_BIN + " " + args + " 2>&1");
}
Result Zeroctl(const std::string& args) {
  return RunCommand(std::string("timeout 60 ") + ZEROCTL_BIN + " --addr 127.0.0.1:1 " + args +
                    " 2>&1");
}

const std::string kModel = std::string(ZEROD_SOURCE_DIR) + "/configs/models/tiny-llama";

class FlagsTest : public ::testing::Test {
 protected:
  std::string Path(const std::string& name) const { return dir_.Path(name); }
  void Write(const std::string& name, const std::string& text) const { dir_.Write(name, text); }
  ScratchDir dir_{"flags"};
};

TEST_F(FlagsTest, HelpIsGroupedByModeAndAModesHelpShowsItsOwnOptions) {
  const Result all = Zerod("--help");
  ASSERT_EQ(all.exit_code, 0) << all.output;
  for (const char* mode : {"zerod --train", "zerod --eval", "zerod --plan", "zerod --prepare-data",
                           "--from-checkpoint", "zerod [--service]"}) {
    EXPECT_NE(all.output.find(mode), std::string::npos) << mode << " missing in:\n" << all.output;
  }
  const Result train = Zerod("--train --help");
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("--save-dir"), std::string::npos) << train.output;
  EXPECT_NE(train.output.find("(default 128 tokens)"), std::string::npos) << train.output;
  EXPECT_EQ(train.output.find("--listen"), std::string::npos) << "a service flag:\n"
                                                              << train.output;
  EXPECT_EQ(train.output.find("--batches"), std::string::npos) << "an eval flag";
  const Result service = Zerod("--service --help");
  EXPECT_NE(service.output.find("--listen"), std::string::npos) << service.output;
  EXPECT_EQ(service.output.find("--save-dir"), std::string::npos) << service.output;
}

// The same bad value, the same message: zerod's flag, zeroctl's flag, the YAML file.
TEST_F(FlagsTest, ABadValueIsRefusedWithOneMessageByBothCommandLinesAndTheFile) {
  const std::string message = "seq_len: 0 is not in [1, 1048576]";
  const Result zerod = Zerod("--train --model m --ds-config d --data x --seq-len 0");
  EXPECT_EQ(zerod.exit_code, 2) << zerod.output;
  EXPECT_NE(zerod.output.find("zerod: error: " + message), std::string::npos) << zerod.output;
  const Result ctl = Zeroctl("submit --model m --ds-config d --data x --seq-len 0");
  EXPECT_NE(ctl.exit_code, 0) << ctl.output;
  EXPECT_NE(ctl.output.find("zeroctl: error: " + message), std::string::npos) << ctl.output;
  Write("job.yaml", "model: " + kModel + "\nds_config: d.json\ndata: x\nseq_len: 0\n");
  const Result file = Zeroctl("submit --job " + Path("job.yaml"));
  EXPECT_NE(file.output.find("zeroctl: error: " + message), std::string::npos) << file.output;
  const Result plan = Zerod("--plan --model " + kModel + " --ds-config d --seq_len 0");
  EXPECT_NE(plan.output.find(message), std::string::npos) << plan.output;
  // --save-every 0 means never, on both (they go on to the next problem: no such model).
  const Result never = Zerod("--train --model m --ds-config d --data x --save-every 0");
  EXPECT_EQ(never.output.find("save_every"), std::string::npos) << never.output;
  EXPECT_NE(never.output.find("model_dir:"), std::string::npos) << never.output;
  const Result ctl_never = Zeroctl("submit --model m --ds-config d --data x --save-every 0");
  EXPECT_EQ(ctl_never.output.find("save_every"), std::string::npos) << ctl_never.output;
  EXPECT_NE(ctl_never.output.find("cannot reach"), std::string::npos) << ctl_never.output;
}

TEST_F(FlagsTest, UnknownAndForeignFlagsAreAnsweredWithZerodsOwn) {
  Result r = Zerod("--train --lerning_rate 1e-4");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--lerning_rate is not a flag of zerod --train; did you mean --lr?"),
            std::string::npos)
      << r.output;
  r = Zeroctl("submit --model m --ds-config d --data x --stesp 3");
  EXPECT_NE(r.output.find("--stesp is not a flag of zeroctl; did you mean --steps?"),
            std::string::npos)
      << r.output;
  r = Zerod("--train --warmup_ratio 0.1");
  EXPECT_NE(r.output.find("--warmup_ratio: Hugging Face Trainer's, not zerod's"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("--warmup-steps N"), std::string::npos) << r.output;
  // A flag of another mode names it.
  r = Zerod("--train --listen 127.0.0.1:1");
  EXPECT_NE(r.output.find("--listen is not a flag of zerod --train (it goes with the service"),
            std::string::npos)
      << r.output;
  r = Zerod("--model " + kModel);
  EXPECT_NE(r.output.find("--model is not a flag of the service"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("zerod --train"), std::string::npos) << r.output;
}

// A DeepSpeed/Trainer launch line trains; under mpirun with a save directory the first line
// says how to stop with a checkpoint (Ctrl-C cannot: stop_advice.h).
TEST_F(FlagsTest, ATrainerLaunchLineTrainsAndSaysHowToStopWithACheckpoint) {
  ASSERT_TRUE(PrepareByteCorpus(Path("corpus.bin")));
  Write("ds.json", R"({"train_batch_size": 4, "train_micro_batch_size_per_gpu": "auto",
      "gradient_accumulation_steps": "auto", "optimizer": {"type": "AdamW",
      "params": {"lr": "auto"}}, "zero_optimization": {"stage": 3}})");
  const Result r = RunZerod("--train --model_name_or_path " + kModel + " --deepspeed " +
                            Path("ds.json") + " --data " + Path("corpus.bin") +
                            " --block_size 32 --max_steps 2 --per_device_train_batch_size 1 "
                            "--gradient_accumulation_steps 2 --learning_rate 1e-3 --output_dir " +
                            Path("out"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("zerod: note: Ctrl-C under mpirun stops the ranks without a "
                           "checkpoint",
                           0),
            0u)
      << "the first line:\n"
      << r.output;
  EXPECT_NE(r.output.find("kill -USR1 "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("step 2/2"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(Path("out/zerod_checkpoint.json"))) << r.output;
}

}  // namespace
}  // namespace zerod::e2e
