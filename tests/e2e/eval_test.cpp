// `mpirun -np 2 zerod --eval` as a user runs it: the JSON and text results, the errors on
// bad input (one message, every rank non-zero, no hang), and that the demo's training
// lowers the evaluation loss of the weights it exports.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/e2e/run_zerod.h"

namespace {

namespace fs = std::filesystem;

using zerod::e2e::Count;
using zerod::e2e::Result;
using zerod::e2e::RunZerod;

class EvalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("zerod-e2e-eval-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    ASSERT_TRUE(zerod::e2e::PrepareByteCorpus(Path("corpus.bin")));
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::string Model() const { return std::string(ZEROD_SOURCE_DIR) + "/configs/models/tiny-llama"; }
  std::string DemoConfig() const {
    return std::string(ZEROD_SOURCE_DIR) + "/configs/ds_zero3_offload_cpu.json";
  }
  void WriteTokens(const std::string& name, const std::vector<uint16_t>& tokens) const {
    std::ofstream out(Path(name), std::ios::binary);
    out.write(reinterpret_cast<const char*>(tokens.data()), tokens.size() * 2);
  }
  // The one JSON object of an --eval --log-format json run.
  static nlohmann::json OnlyJson(const Result& r) {
    std::vector<nlohmann::json> objects;
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty() && line[0] == '{') objects.push_back(nlohmann::json::parse(line));
    }
    EXPECT_EQ(objects.size(), 1u) << r.output;
    return objects.empty() ? nlohmann::json::object() : objects[0];
  }
  void ExpectOneError(const Result& r, const std::string& fragment) {
    EXPECT_NE(r.exit_code, 0) << r.output;
    EXPECT_NE(r.exit_code, 124) << "timed out (a hang): " << r.output;
    EXPECT_EQ(Count(r.output, "zerod: error"), 1) << r.output;
    EXPECT_NE(r.output.find(fragment), std::string::npos) << "missing '" << fragment << "' in:\n"
                                                          << r.output;
  }
  fs::path dir_;
};

TEST_F(EvalTest, PrintsOneJsonObjectWithLossPerplexityAndTokens) {
  // No config: a batch is one window per rank, so 6 batches are 12 windows of 32 + 1.
  Result r = RunZerod("--eval --model " + Model() + " --data " + Path("corpus.bin") +
                      " --seq-len 32 --batches 6 --log-format json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json j = OnlyJson(r);
  ASSERT_TRUE(j.contains("loss") && j.contains("perplexity") && j.contains("tokens")) << j;
  EXPECT_EQ(j["tokens"].get<int64_t>(), 12 * 32);
  const double loss = j["loss"].get<double>();
  EXPECT_NEAR(j["perplexity"].get<double>(), std::exp(loss), 1e-6 * std::exp(loss));
  // The seeded init is close to uniform over 256 byte values.
  EXPECT_NEAR(loss, std::log(256.0), 0.2);
}

TEST_F(EvalTest, TextOutputAndOneRankGiveTheSameLossAsTwo) {
  const std::string args = "--eval --model " + Model() + " --ds-config " + DemoConfig() +
                           " --data " + Path("corpus.bin") + " --seq-len 64 --batches 2";
  Result two = RunZerod(args + " --log-format json");
  Result one = RunZerod(args + " --log-format json", 1);
  ASSERT_EQ(two.exit_code, 0) << two.output;
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const double a = OnlyJson(two)["loss"].get<double>(), b = OnlyJson(one)["loss"].get<double>();
  EXPECT_LT(std::abs(a - b) / b, 1e-6) << a << " vs " << b;
  EXPECT_EQ(OnlyJson(two)["tokens"].get<int64_t>(), 2 * 16 * 64);  // train_batch_size 16
  Result text = RunZerod(args);
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_EQ(Count(text.output, "eval | loss "), 1) << text.output;
  EXPECT_NE(text.output.find("| perplexity "), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("| tokens 2048 (32 windows of 64 + 1)"), std::string::npos)
      << text.output;
}

TEST_F(EvalTest, TheDemosTrainingLowersTheEvalLossOfWhatItExports) {
  Result trained =
      RunZerod("--train --model " + Model() + " --ds-config " + DemoConfig() + " --data " +
               Path("corpus.bin") + " --seq-len 64 --steps 30 --export-hf " + Path("hf"));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  const std::string eval = " --ds-config " + DemoConfig() + " --data " + Path("corpus.bin") +
                           " --seq-len 64 --batches 4 --log-format json";
  Result before = RunZerod("--eval --model " + Model() + eval);  // the same seeded init
  Result after = RunZerod("--eval --model " + Path("hf") + eval);
  ASSERT_EQ(before.exit_code, 0) << before.output;
  ASSERT_EQ(after.exit_code, 0) << after.output;
  const double untrained = OnlyJson(before)["loss"].get<double>();
  const double loss = OnlyJson(after)["loss"].get<double>();
  std::printf("  eval loss: untrained %.4f, after 30 demo steps %.4f\n", untrained, loss);
  EXPECT_LT(loss, untrained - 0.3);
}

TEST_F(EvalTest, DataShorterThanOneWindowIsAnError) {
  WriteTokens("short.bin", {1, 2, 3, 4, 5});
  ExpectOneError(
      RunZerod("--eval --model " + Model() + " --data " + Path("short.bin") + " --seq-len 32"),
      "holds 5 tokens, fewer than one evaluation window of --seq-len 32 + 1 = 33");
}

TEST_F(EvalTest, MissingModelDirectoryNamesIt) {
  ExpectOneError(RunZerod("--eval --model " + Path("no-model") + " --data " + Path("corpus.bin") +
                          " --seq-len 32"),
                 "no-model does not exist");
}

TEST_F(EvalTest, VocabularyMismatchIsCaught) {
  WriteTokens("big.bin", std::vector<uint16_t>(100, 3000));
  ExpectOneError(
      RunZerod("--eval --model " + Model() + " --data " + Path("big.bin") + " --seq-len 32"),
      "token id 3000");
}

TEST_F(EvalTest, MoreBatchesThanTheFileHoldsIsAnError) {
  WriteTokens("small.bin", std::vector<uint16_t>(100, 7));
  ExpectOneError(RunZerod("--eval --model " + Model() + " --data " + Path("small.bin") +
                          " --seq-len 32 --batches 2"),
                 "--batches 2 * 2 windows per batch = 4 windows, but");
}

}  // namespace
