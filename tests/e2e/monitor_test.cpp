// DeepSpeed's monitor sections through the real binary: `mpirun -np 2 zerod --train` with
// "tensorboard" and "csv_monitor" enabled, then the event files read by the `tensorboard`
// package's own EventAccumulator (tests/tools/read_tensorboard.py, in .venv) and the CSV
// files read as text, both checked against the step lines (--log-format json).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/e2e/run_zerod.h"

namespace {

namespace fs = std::filesystem;

using zerod::e2e::Count;
using zerod::e2e::Result;
using zerod::e2e::RunCommand;
using zerod::e2e::RunZerod;

constexpr int kBatch = 8;  // train_batch_size: the x axis moves by this much per step

class MonitorE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("zerod-e2e-monitor-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    ASSERT_TRUE(zerod::e2e::PrepareByteCorpus(Path("corpus.bin")));
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  // A ZeRO-3 offload config with `monitors` added at the top level.
  void WriteConfig(const std::string& monitors) const {
    std::ofstream(Path("ds.json"))
        << R"({"train_batch_size": 8, "train_micro_batch_size_per_gpu": 2,
      "optimizer": {"type": "AdamW", "params": {"lr": 1e-3}},
      "scheduler": {"type": "WarmupLR", "params": {"warmup_num_steps": 3, "warmup_max_lr": 1e-3}},
      "zero_optimization": {"stage": 3, "offload_param": {"device": "cpu"},
                            "offload_optimizer": {"device": "cpu"}},)"
        << monitors << "}";
  }
  std::string Train(const std::string& extra) const {
    return "--train --model " + std::string(ZEROD_SOURCE_DIR) + "/configs/models/tiny-llama" +
           " --ds-config " + Path("ds.json") + " --data " + Path("corpus.bin") + " --seq-len 32 " +
           extra;
  }
  fs::path dir_;
};

std::vector<nlohmann::json> StepLines(const std::string& output) {
  std::vector<nlohmann::json> out;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty() && line[0] == '{') out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

// The CSV file's rows after its header, as (step, value) with the value read back exactly.
std::vector<std::pair<int64_t, double>> CsvRows(const std::string& path, std::string* header) {
  std::vector<std::pair<int64_t, double>> rows;
  std::istringstream lines(zerod::e2e::ReadWholeFile(path));
  std::getline(lines, *header);
  for (std::string line; std::getline(lines, line);) {
    const size_t comma = line.find(',');
    rows.push_back({std::stoll(line.substr(0, comma)), std::stod(line.substr(comma + 1))});
  }
  return rows;
}

TEST_F(MonitorE2eTest, TensorBoardAndCsvHoldTheStepLinesValuesUnderDeepSpeedsNames) {
  const std::string logs = Path("logs");
  WriteConfig(R"("tensorboard": {"enabled": true, "output_path": ")" + logs +
              R"(", "job_name": "tiny"},
                 "csv_monitor": {"enabled": true, "output_path": ")" +
              logs + R"(", "job_name": "tiny"})");
  Result r = RunZerod(Train("--steps 4 --log-format json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::vector<nlohmann::json> steps = StepLines(r.output);
  ASSERT_EQ(steps.size(), 4u) << r.output;
  EXPECT_EQ(Count(r.output, "zerod: tensorboard: writing " + logs + "/tiny/events.out.tfevents."),
            1)
      << r.output;
  // Only rank 0 writes: one event file.
  int event_files = 0;
  for (const auto& e : fs::directory_iterator(logs + "/tiny"))
    event_files += e.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  EXPECT_EQ(event_files, 1);

  // TensorBoard's reader. Its stderr (TensorFlow-not-installed notices) goes to a file.
  Result tb = RunCommand(std::string(ZEROD_SOURCE_DIR) + "/.venv/bin/python " + ZEROD_SOURCE_DIR +
                         "/tests/tools/read_tensorboard.py " + logs + "/tiny 2>" + Path("tb.err"));
  ASSERT_EQ(tb.exit_code, 0) << tb.output << zerod::e2e::ReadWholeFile(Path("tb.err"))
                             << "\n(scripts/bootstrap.sh installs tensorboard into .venv)";
  const nlohmann::json scalars = nlohmann::json::parse(tb.output)["scalars"];
  for (const char* tag :
       {"Train/Samples/train_loss", "Train/Samples/lr", "zerod/grad_norm",
        "zerod/throughput/tokens_per_s", "zerod/throughput/model_tflops_per_s", "zerod/time/step_s",
        "zerod/time/forward_s", "zerod/time/backward_s", "zerod/time/optimizer_s",
        "zerod/time/transfer_wait_s", "zerod/time/optimizer_wait_s", "zerod/memory/host_rss_GiB",
        "zerod/memory/host_peak_rss_GiB"}) {
    ASSERT_TRUE(scalars.contains(tag)) << tag << " missing in " << scalars.dump();
    EXPECT_EQ(scalars[tag].size(), 4u) << tag;
  }
  EXPECT_FALSE(scalars.contains("Train/Samples/loss_scale"));  // fp16 only, as DeepSpeed
  // Event values are float32 (the format's simple_value); x is samples seen, the loss's
  // before its step and the rest after it (Note [x axis] in engine/monitor/step_scalars.cpp).
  for (int k = 0; k < 4; ++k) {
    const auto& loss = scalars["Train/Samples/train_loss"][k];
    const auto& lr = scalars["Train/Samples/lr"][k];
    const auto& norm = scalars["zerod/grad_norm"][k];
    EXPECT_EQ(loss[0].get<int64_t>(), k * kBatch);
    EXPECT_EQ(loss[1].get<float>(), static_cast<float>(steps[k]["loss"].get<double>()));
    EXPECT_EQ(lr[0].get<int64_t>(), (k + 1) * kBatch);
    EXPECT_EQ(lr[1].get<float>(), static_cast<float>(steps[k]["lr"].get<double>()));
    EXPECT_EQ(norm[1].get<float>(), static_cast<float>(steps[k]["grad_norm"].get<double>()));
  }
  // The warmup moves lr, so the lr curve is not a constant that any step would match.
  EXPECT_NE(steps[0]["lr"], steps[3]["lr"]);

  // The CSV files: DeepSpeed's names and header, the step lines' values exactly.
  for (auto [file, key, column, first_x] :
       {std::tuple{"Train_Samples_train_loss.csv", "loss", "train_loss", 0},
        std::tuple{"Train_Samples_lr.csv", "lr", "lr", kBatch},
        std::tuple{"zerod_grad_norm.csv", "grad_norm", "grad_norm", kBatch}}) {
    std::string header;
    const auto rows = CsvRows(logs + "/tiny/" + file, &header);
    EXPECT_EQ(header, std::string("step,") + column + "\r") << file;
    ASSERT_EQ(rows.size(), 4u) << file;
    for (int k = 0; k < 4; ++k) {
      EXPECT_EQ(rows[k].first, first_x + k * kBatch) << file;
      EXPECT_EQ(rows[k].second, steps[k][key].get<double>()) << file << " step " << k + 1;
    }
  }
}

TEST_F(MonitorE2eTest, DeepSpeedsDefaultDirectoryIsJobNameInTheWorkingDirectory) {
  WriteConfig(R"("csv_monitor": {"enabled": true})");
  Result r = RunZerod(Train("--steps 1"), 2, dir_.string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir_ / "DeepSpeedJobName" / "Train_Samples_train_loss.csv")) << r.output;
}

TEST_F(MonitorE2eTest, AnOutputPathThatCannotBeMadeFailsEveryRankBeforeTraining) {
  std::ofstream(Path("taken")) << "a file, not a directory";
  WriteConfig(R"("tensorboard": {"enabled": true, "output_path": ")" + Path("taken") + R"("})");
  Result r = RunZerod(Train("--steps 2"));
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, 124) << "timed out (a hang): " << r.output;
  EXPECT_EQ(Count(r.output, "zerod: error"), 1) << r.output;
  EXPECT_NE(r.output.find("tensorboard: cannot create directory " + Path("taken")),
            std::string::npos)
      << r.output;
  EXPECT_EQ(r.output.find("step 1/2"), std::string::npos) << r.output;
}

}  // namespace
