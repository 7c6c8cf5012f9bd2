// zerod as a user runs it: `mpirun -np 2 zerod --train ...` in a child process, its
// output and exit code checked. Every run has a time limit, so a hang fails the test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/e2e/run_zerod.h"

namespace {

namespace fs = std::filesystem;

using zerod::e2e::Count;
using zerod::e2e::Result;
using zerod::e2e::RunZerod;

class OneShotTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("zerod-e2e-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    // The shipped corpus as bytes, through zerod's own --prepare-data.
    ASSERT_TRUE(zerod::e2e::PrepareByteCorpus(Path("corpus.bin")));
    Write("ds.json",
          R"({"train_batch_size": 8, "train_micro_batch_size_per_gpu": 2, "gradient_clipping": 1.0,
      "optimizer": {"type": "AdamW", "params": {"lr": 1e-3}},
      "zero_optimization": {"stage": 3, "offload_param": {"device": "cpu"}, "offload_optimizer": {"device": "cpu"}}})");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  void Write(const std::string& name, const std::string& text) const {
    std::ofstream(Path(name)) << text;
  }
  std::string Model() const { return std::string(ZEROD_SOURCE_DIR) + "/configs/models/tiny-llama"; }
  std::string Train(const std::string& extra) const {
    return "--train --model " + Model() + " --ds-config " + Path("ds.json") + " --data " +
           Path("corpus.bin") + " --seq-len 32 " + extra;
  }
  // One clear message, from one rank, and every rank exited non-zero.
  void ExpectOneError(const Result& r, const std::string& fragment) {
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.exit_code, 124) << "timed out (a hang): " << r.output;
    EXPECT_EQ(Count(r.output, "zerod: error"), 1) << r.output;
    EXPECT_NE(r.output.find(fragment), std::string::npos) << "missing '" << fragment << "' in:\n"
                                                          << r.output;
  }
  fs::path dir_;
};

TEST_F(OneShotTest, PrintsTheInitializationBlockOnceAndOneJsonObjectPerStep) {
  Result r = RunZerod(Train("--steps 5 --log-format json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(Count(r.output, "DeepSpeed ZeRO-3 Initialization Complete"), 1) << r.output;
  for (const char* line :
       {"  ZeRO Stage: 3", "  Parameter offloading: True", "  Optimizer offloading: True",
        "  Global rank: 0", "  World size: 2", "  Device: cpu"}) {
    EXPECT_NE(r.output.find(line), std::string::npos) << line;
  }
  int steps = 0;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] != '{') continue;
    auto j = nlohmann::json::parse(line);
    for (const char* key : {"step", "loss", "lr", "grad_norm", "loss_scale", "tokens_per_s"}) {
      EXPECT_TRUE(j.contains(key)) << key << " missing in " << line;
    }
    EXPECT_EQ(j["step"].get<int>(), ++steps);
    EXPECT_TRUE(std::isfinite(j["loss"].get<double>()));
  }
  EXPECT_EQ(steps, 5);
}

TEST_F(OneShotTest, AcceptsTheFlagNamesOfDeepSpeedTrainingScripts) {
  Result r =
      RunZerod("--train --deepspeed --model-name " + Model() + " --deepspeed_config " +
               Path("ds.json") + " --data " + Path("corpus.bin") + " --seq-len 32 --steps 2");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("step 2/2"), std::string::npos) << r.output;
}

TEST_F(OneShotTest, ExportsAHuggingFaceDirectoryAfterTraining) {
  Result r = RunZerod(Train("--steps 2 --export-hf " + Path("hf")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("exported Hugging Face weights to"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(Path("hf/model.safetensors")));
  std::ifstream config(Path("hf/config.json"));
  auto j = nlohmann::json::parse(config);
  EXPECT_EQ(j["architectures"][0], "LlamaForCausalLM");
  EXPECT_EQ(j["torch_dtype"], "float32");
  // And zerod trains from what it exported.
  Result again = RunZerod("--train --model " + Path("hf") + " --ds-config " + Path("ds.json") +
                          " --data " + Path("corpus.bin") + " --seq-len 32 --steps 1");
  EXPECT_EQ(again.exit_code, 0) << again.output;
}

// Note [resharding]: a checkpoint written by N ranks resumes on M. The losses after the
// resume are those of an uninterrupted run at M ranks, up to fp32 reordering.
TEST_F(OneShotTest, ACheckpointResumesAtAnotherWorldSize) {
  auto losses = [](const std::string& output) {
    std::vector<double> out;
    std::istringstream lines(output);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty() && line[0] == '{') out.push_back(nlohmann::json::parse(line)["loss"]);
    }
    return out;
  };
  const std::string json = " --log-format json";
  for (int saved : {2, 4}) {
    Result save =
        RunZerod(Train("--steps 3 --save-dir " + Path("c" + std::to_string(saved))), saved);
    ASSERT_EQ(save.exit_code, 0) << save.output;
  }
  for (auto [from, to] : {std::pair{2, 1}, std::pair{2, 4}, std::pair{4, 2}}) {
    Result straight = RunZerod(Train("--steps 5" + json), to);
    Result resumed =
        RunZerod(Train("--steps 5 --resume " + Path("c" + std::to_string(from)) + json), to);
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    const std::vector<double> expected = losses(straight.output);
    const std::vector<double> after = losses(resumed.output);
    ASSERT_EQ(expected.size(), 5u) << straight.output;
    ASSERT_EQ(after.size(), 2u) << resumed.output;
    for (int i = 0; i < 2; ++i) {
      EXPECT_NEAR(after[i], expected[3 + i], 1e-5)
          << from << " -> " << to << " ranks, step " << 4 + i;
    }
  }
}

// The export from a checkpoint (any world size, one process) writes the very bytes the
// job's own export wrote: the same tensors, rounded the same way.
TEST_F(OneShotTest, ExportFromACheckpointEqualsTheJobsOwnExport) {
  Result train =
      RunZerod(Train("--steps 3 --save-dir " + Path("ckpt") + " --export-hf " + Path("direct")));
  ASSERT_EQ(train.exit_code, 0) << train.output;
  Result exported =
      zerod::e2e::RunCommand(std::string(ZEROD_BIN) + " --export-hf --from-checkpoint " +
                             Path("ckpt") + " --output " + Path("from-ckpt") + " 2>&1");
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_NE(exported.output.find("saved by 2 ranks"), std::string::npos) << exported.output;
  using zerod::e2e::ReadWholeFile;
  const std::string direct = ReadWholeFile(Path("direct/model.safetensors"));
  ASSERT_FALSE(direct.empty());
  EXPECT_TRUE(direct == ReadWholeFile(Path("from-ckpt/model.safetensors")));
  EXPECT_EQ(ReadWholeFile(Path("direct/config.json")),
            ReadWholeFile(Path("from-ckpt/config.json")));
  // A missing checkpoint is named.
  Result missing = zerod::e2e::RunCommand(std::string(ZEROD_BIN) + " --export-hf " + Path("x") +
                                          " --from-checkpoint " + Path("no-ckpt") + " 2>&1");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("no-ckpt"), std::string::npos) << missing.output;
}

// --save-every: a checkpoint every N steps in SAVE_DIR/step_NNNNNNNN, the newest K kept,
// the final one in SAVE_DIR; a periodic one resumes like any other.
TEST_F(OneShotTest, SavesEveryNStepsKeepingTheNewest) {
  Result r =
      RunZerod(Train("--steps 7 --save-every 2 --keep-checkpoints 2 --save-dir " + Path("ckpts")));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(Path("ckpts/step_00000002")));
  EXPECT_TRUE(fs::exists(Path("ckpts/step_00000004/zerod_checkpoint.json")));
  EXPECT_TRUE(fs::exists(Path("ckpts/step_00000006/zerod_checkpoint.json")));
  EXPECT_TRUE(fs::exists(Path("ckpts/zerod_checkpoint.json")));  // the final one, step 7
  EXPECT_EQ(Count(r.output, "zerod: saved "), 3) << r.output;
  Result resumed = RunZerod(Train("--steps 7 --resume " + Path("ckpts/step_00000006")));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("step 7/7"), std::string::npos) << resumed.output;
  EXPECT_EQ(resumed.output.find("step 6/7"), std::string::npos) << resumed.output;
  ExpectOneError(RunZerod(Train("--steps 2 --save-every 1")), "--save-every needs --save-dir");
}

// A YAML job file, with a flag beside it overriding one of its values.
TEST_F(OneShotTest, TrainsFromAYamlJobFileWithFlagsOverridingIt) {
  Write("job.yaml", "model: " + Model() + "\nds_config: " + Path("ds.json") +
                        "\ndata: " + Path("corpus.bin") + "\nsteps: 50\nseq_len: 32\n");
  Result r = RunZerod("--train --job " + Path("job.yaml") + " --steps 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("step 2/2"), std::string::npos) << r.output;
  Write("bad.yaml", "model: " + Model() + "\nsteps: 2\nseq_lenn: 32\n");
  ExpectOneError(RunZerod("--train --job " + Path("bad.yaml")),
                 "bad.yaml:3: seq_lenn is not a job setting; did you mean \"seq_len\"?");
}

TEST_F(OneShotTest, MissingDataFileFailsEveryRankWithOneMessage) {
  ExpectOneError(RunZerod("--train --model " + Model() + " --ds-config " + Path("ds.json") +
                          " --data " + Path("missing.bin") + " --steps 2"),
                 "missing.bin cannot be opened");
}

TEST_F(OneShotTest, MissingModelDirectoryNamesIt) {
  ExpectOneError(RunZerod("--train --model " + Path("no-model") + " --ds-config " +
                          Path("ds.json") + " --data " + Path("corpus.bin") + " --steps 2"),
                 "no-model does not exist");
}

TEST_F(OneShotTest, WrongTokenWidthIsCaught) {
  // The corpus has an odd number of uint16 tokens: as uint32 its size does not divide.
  ExpectOneError(RunZerod(Train("--steps 2 --data-dtype uint32")), "is --data-dtype right?");
}

TEST_F(OneShotTest, VocabularyMismatchIsCaught) {
  std::ofstream out(Path("big.bin"), std::ios::binary);
  const uint16_t tokens[4] = {1, 2, 3000, 4};
  out.write(reinterpret_cast<const char*>(tokens), sizeof(tokens));
  out.close();
  ExpectOneError(RunZerod("--train --model " + Model() + " --ds-config " + Path("ds.json") +
                          " --data " + Path("big.bin") + " --steps 2"),
                 "token id 3000");
}

TEST_F(OneShotTest, BatchArithmeticThatDoesNotAddUpPrintsIt) {
  Write("bad.json", R"({"train_batch_size": 10, "train_micro_batch_size_per_gpu": 2,
                       "gradient_accumulation_steps": 2, "zero_optimization": {"stage": 3}})");
  ExpectOneError(
      RunZerod("--train --model " + Model() + " --ds-config " + Path("bad.json") + " --data " +
               Path("corpus.bin") + " --steps 2"),
      "10 != train_micro_batch_size_per_gpu 2 * gradient_accumulation_steps 2 * world size 2 = 8");
}

TEST_F(OneShotTest, AMisspeltConfigKeyIsRefusedWithTheKnownOne) {
  Write("bad.json", R"({"train_batch_size": 8, "gradient_clipping": 1.0,
                       "zero_optimization": {"stage": 3, "overlap_comms": true}})");
  ExpectOneError(RunZerod("--train --model " + Model() + " --ds-config " + Path("bad.json") +
                          " --data " + Path("corpus.bin") + " --steps 2"),
                 "zero_optimization.overlap_comms is not a DeepSpeed setting; did you mean "
                 "\"overlap_comm\"?");
}

TEST_F(OneShotTest, AnUnsupportedSchedulerSaysWhichToUse) {
  Write("bad.json", R"({"train_batch_size": 8, "scheduler": {"type": "OneCycle", "params": {}},
                       "zero_optimization": {"stage": 3}})");
  ExpectOneError(RunZerod("--train --model " + Model() + " --ds-config " + Path("bad.json") +
                          " --data " + Path("corpus.bin") + " --steps 2"),
                 "scheduler.type is \"OneCycle\"; zerod implements \"WarmupLR\", "
                 "\"WarmupDecayLR\" and \"WarmupCosineLR\"");
}

// Configs as users bring them (tests/fixtures/ds_configs), each trained 3 steps at world 2
// with the flags Hugging Face's Trainer would fill their "auto" values from.
TEST_F(OneShotTest, RealWorldDeepSpeedConfigsTrain) {
  const std::string dir = std::string(ZEROD_SOURCE_DIR) + "/tests/fixtures/ds_configs/";
  const std::pair<const char*, const char*> runs[] = {
      {"hf_zero3_auto_offload.json",
       "--micro-batch-size 2 --grad-accum 2 --lr 1e-4 "
       "--warmup-steps 2"},
      {"deepspeed_tutorial_zero3_offload.json", ""},
      {"llama_factory_z3_offload_monitor.json", "--micro-batch-size 2 --precision fp32"},
      {"zero3_offload_ratio.json", ""},
  };
  for (const auto& [config, flags] : runs) {
    // In the test's directory: the monitor sections' relative output_path lands there.
    Result r = RunZerod("--train --model " + Model() + " --ds-config " + dir + config + " --data " +
                            Path("corpus.bin") + " --seq-len 32 --steps 3 " + flags,
                        2, dir_.string());
    EXPECT_EQ(r.exit_code, 0) << config << ":\n" << r.output;
    EXPECT_NE(r.output.find("step 3/3"), std::string::npos) << config << ":\n" << r.output;
    EXPECT_EQ(r.output.find("nan"), std::string::npos) << config << ":\n" << r.output;
    if (std::string(config) == "hf_zero3_auto_offload.json") {
      EXPECT_EQ(Count(r.output, "zerod: note: " + dir + config +
                                    ": \"auto\" filled from the job: "
                                    "train_micro_batch_size_per_gpu 2"),
                1)
          << r.output;
    }
    if (std::string(config) == "llama_factory_z3_offload_monitor.json") {
      EXPECT_TRUE(fs::exists(Path("output/ds_logs/train_llama/Train_Samples_train_loss.csv")));
    }
  }
}

// A Hugging Face directory with a tokenizer.json (the llama3 fixture, vocab 903): its
// jsonl tokenized by --prepare-data, then trained on with the same directory as --model.
TEST_F(OneShotTest, PreparesJsonlWithTheModelsTokenizerAndTrainsOnIt) {
  fs::create_directories(Path("hf-tok"));
  fs::copy_file(std::string(ZEROD_SOURCE_DIR) + "/tests/fixtures/tokenizers/llama3/tokenizer.json",
                Path("hf-tok/tokenizer.json"));
  nlohmann::json config;
  std::ifstream(Model() + "/config.json") >> config;
  config["vocab_size"] = 903;
  config["eos_token_id"] = 900;
  Write("hf-tok/config.json", config.dump());
  std::string jsonl;
  for (int i = 0; i < 50; ++i)
    jsonl += nlohmann::json{{"text", "Vim's user manual, part " + std::to_string(i) +
                                         ": the first steps in Vim.\n"}}
                 .dump() +
             "\n";
  Write("docs.jsonl", jsonl);
  const std::string prep = std::string(ZEROD_BIN) + " --prepare-data --model " + Path("hf-tok") +
                           " --input " + Path("docs.jsonl") + " --output " + Path("tok.bin") +
                           " 2>&1";
  FILE* pipe = popen(prep.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (fgets(buf.data(), buf.size(), pipe) != nullptr) out += buf.data();
  ASSERT_EQ(pclose(pipe), 0) << out;
  // A .jsonl is a dataset file: a sample file whose tokens still train as one stream.
  EXPECT_NE(out.find("text dataset: 50 records, 50 samples"), std::string::npos) << out;
  EXPECT_NE(out.find("uint16"), std::string::npos) << out;
  Result r = RunZerod("--train --model " + Path("hf-tok") + " --ds-config " + Path("ds.json") +
                      " --data " + Path("tok.bin") + " --seq-len 16 --steps 2");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(Count(r.output, "step 2/2"), 1) << r.output;
}

// Corrupt model directories and tokenizers, as a user would hit them: one message that
// names the file and the problem, every rank non-zero, no hang.
TEST_F(OneShotTest, CorruptModelFilesGiveOneErrorNamingTheFileAndTheProblem) {
  const std::string fixture = std::string(ZEROD_SOURCE_DIR) + "/tests/fixtures/models/llama_gqa";
  fs::create_directories(Path("truncated"));
  fs::copy_file(fixture + "/config.json", Path("truncated/config.json"));
  {
    std::ifstream in(fixture + "/model.safetensors", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(Path("truncated/model.safetensors"), std::ios::binary)
        << bytes.substr(0, bytes.size() / 3);
  }
  ExpectOneError(
      RunZerod("--train --model " + Path("truncated") + " --ds-config " + Path("ds.json") +
               " --data " + Path("corpus.bin") + " --seq-len 16 --steps 1"),
      "truncated/model.safetensors");

  fs::create_directories(Path("bert"));
  Write("bert/config.json", R"({"architectures": ["BertForMaskedLM"]})");
  ExpectOneError(RunZerod("--train --model " + Path("bert") + " --ds-config " + Path("ds.json") +
                          " --data " + Path("corpus.bin") + " --steps 1"),
                 "BertForMaskedLM");

  fs::create_directories(Path("wordpiece"));
  fs::copy_file(fixture + "/config.json", Path("wordpiece/config.json"));
  Write("wordpiece/tokenizer.json", R"({"model": {"type": "WordPiece", "vocab": {}}})");
  Write("doc.jsonl", R"({"text": "hello"})");
  const std::string prep = std::string(ZEROD_BIN) + " --prepare-data --model " + Path("wordpiece") +
                           " --input " + Path("doc.jsonl") + " --output " + Path("doc.bin") +
                           " > " + Path("prep.log") + " 2>&1";
  EXPECT_NE(std::system(prep.c_str()), 0);
  std::ifstream log(Path("prep.log"));
  std::string text((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(text.find("wordpiece/tokenizer.json"), std::string::npos) << text;
  EXPECT_NE(text.find("WordPiece"), std::string::npos) << text;
}

}  // namespace
