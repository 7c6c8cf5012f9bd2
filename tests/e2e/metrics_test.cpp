// `zerod --metrics-listen`: rank 0 serves Prometheus metrics during a 2-rank job. The page
// is scraped over loopback (Python's urllib), parsed as Prometheus' text format, and its
// values follow the job as it steps.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "nlohmann/json.hpp"
#include "tests/e2e/daemons.h"
#include "tests/e2e/run_zerod.h"

namespace zerod::e2e {
namespace {

namespace fs = std::filesystem;

// "name{labels}" -> value, for every sample line of a text-format page. Fails the test on
// a line that is neither a comment nor a sample.
std::map<std::string, double> ParsePrometheusText(const std::string& text) {
  std::map<std::string, double> samples;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    EXPECT_NE(space, std::string::npos) << line;
    if (space == std::string::npos) continue;
    samples[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return samples;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("zerod-metrics-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    ASSERT_TRUE(PrepareByteCorpus(Path("corpus.bin")));
    std::ofstream(Path("ds.json"))
        << R"({"train_batch_size": 8, "train_micro_batch_size_per_gpu": 2,
      "optimizer": {"type": "AdamW", "params": {"lr": 2e-3}},
      "zero_optimization": {"stage": 3, "offload_optimizer": {"device": "cpu"}}})";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // The metrics page of `url`, parsed.
  std::map<std::string, double> Scrape(const std::string& url) const {
    const Result r = RunCommand(std::string(ZEROD_SOURCE_DIR) +
                                "/.venv/bin/python -c \"import urllib.request,sys;"
                                "sys.stdout.write(urllib.request.urlopen('" +
                                url + "', timeout=10).read().decode())\"");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return ParsePrometheusText(r.output);
  }
  fs::path dir_;
};

TEST_F(MetricsTest, ScrapedDuringATwoRankJobTheValuesFollowTheJob) {
  auto daemons = Daemons::Start(2, "--metrics-listen 127.0.0.1:0", Path("daemons.log"));
  ASSERT_NE(daemons, nullptr) << ReadWholeFile(Path("daemons.log"));
  const std::string marker = "Prometheus metrics on ";
  const std::string log = daemons->log();
  const size_t at = log.find(marker);
  ASSERT_NE(at, std::string::npos) << log;
  const std::string url = log.substr(at + marker.size(), log.find('\n', at) - at - marker.size());

  const std::string ctl = "--addr " + daemons->addr() + " ";
  CtlResult submit =
      Zeroctl(ctl + "--json submit --paused --model " + std::string(ZEROD_SOURCE_DIR) +
              "/configs/models/tiny-llama" + " --ds-config " + Path("ds.json") + " --data " +
              Path("corpus.bin") + " --seq-len 32 --steps 10");
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  const std::string job = nlohmann::json::parse(submit.out)["job_id"];
  ASSERT_EQ(Zeroctl(ctl + "step " + job + " -n 1").exit_code, 0);
  auto first = Scrape(url);
  ASSERT_EQ(Zeroctl(ctl + "step " + job + " -n 2").exit_code, 0);
  auto second = Scrape(url);

  const std::string id = "{job=\"" + job + "\"}";
  EXPECT_EQ(first["zerod_job_step" + id], 1) << url;
  EXPECT_EQ(second["zerod_job_step" + id], 3);
  EXPECT_EQ(second["zerod_job_steps_total" + id], 10);
  EXPECT_GT(second["zerod_job_loss" + id], 0);
  EXPECT_NE(first["zerod_job_loss" + id], second["zerod_job_loss" + id]) << "the loss moves";
  EXPECT_GT(second["zerod_job_tokens_per_second" + id], 0);
  EXPECT_GT((second["zerod_step_part_seconds{job=\"" + job + "\",part=\"forward\"}"]), 0);
  EXPECT_EQ(second["zerod_jobs{state=\"PAUSED\"}"], 1);
  EXPECT_EQ(second["zerod_queue_length"], 0);
  // One host RSS sample per rank (labels rank and device, in either order).
  for (const char* rank : {"0", "1"}) {
    double rss = 0;
    for (const auto& [key, value] : second) {
      if (key.rfind("zerod_rank_host_rss_bytes{", 0) == 0 &&
          key.find("rank=\"" + std::string(rank) + "\"") != std::string::npos)
        rss = value;
    }
    EXPECT_GT(rss, 0) << "rank " << rank;
  }
  EXPECT_GE(second["zerod_rpc_calls_total{method=\"SubmitJob\"}"], 1);
  EXPECT_EQ(second["zerod_rpc_calls_total{method=\"StepJob\"}"], 2);
  EXPECT_EQ(second["zerod_rpc_errors_total{method=\"StepJob\"}"], 0);
  EXPECT_EQ(Zeroctl(ctl + "shutdown").exit_code, 0);
}

}  // namespace
}  // namespace zerod::e2e
