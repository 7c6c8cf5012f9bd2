// `zerod --metrics-listen`: rank 0 serves Prometheus metrics during a 2-rank job. The page
// is scraped over loopback (Python's urllib), parsed as Prometheus' text format, and its
// values follow the job as it steps. With a token, a scrape must carry it.
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
  // The HTTP status of a GET of `url` with `authorization` ("": no such header), then the
  // page: "200\n# HELP ...".
  std::string Get(const std::string& url, const std::string& authorization) const {
    std::ofstream(Path("get.py"))
        << "import sys, urllib.request, urllib.error\n"
           "req = urllib.request.Request(sys.argv[1])\n"
           "if sys.argv[2]: req.add_header('Authorization', sys.argv[2])\n"
           "try:\n"
           "    r = urllib.request.urlopen(req, timeout=10)\n"
           "    print(r.status); sys.stdout.write(r.read().decode())\n"
           "except urllib.error.HTTPError as e:\n"
           "    print(e.code); sys.stdout.write(e.read().decode())\n";
    return RunCommand(std::string(ZEROD_SOURCE_DIR) + "/.venv/bin/python " + Path("get.py") + " " +
                      url + " '" + authorization + "'")
        .output;
  }
  fs::path dir_;
};

// The metrics page's URL from the daemons' log.
std::string MetricsUrl(const Daemons& daemons) {
  const std::string marker = "Prometheus metrics on ";
  const std::string log = daemons.log();
  const size_t at = log.find(marker);
  if (at == std::string::npos) return "";
  return log.substr(at + marker.size(), log.find('\n', at) - at - marker.size());
}

TEST_F(MetricsTest, ScrapedDuringATwoRankJobTheValuesFollowTheJob) {
  auto daemons = Daemons::Start(2, "--metrics-listen 127.0.0.1:0", Path("daemons.log"));
  ASSERT_NE(daemons, nullptr) << ReadWholeFile(Path("daemons.log"));
  const std::string url = MetricsUrl(*daemons);
  ASSERT_FALSE(url.empty()) << daemons->log();

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

// A service with a token protects its metrics too: a scrape without the token, or with
// another, gets 401; `Authorization: Bearer <token>` gets the page, the scheme in any case
// (HTTP's schemes are case-insensitive; Prometheus sends `Bearer`).
TEST_F(MetricsTest, WithATokenTheMetricsNeedItTheBearerSchemeInAnyCase) {
  std::ofstream(Path("token")) << "metrics-s3cret\n";
  auto daemons = Daemons::Start(
      1, "--token-file " + Path("token") + " --metrics-listen 127.0.0.1:0", Path("daemons.log"));
  ASSERT_NE(daemons, nullptr) << ReadWholeFile(Path("daemons.log"));
  const std::string url = MetricsUrl(*daemons);
  ASSERT_FALSE(url.empty()) << daemons->log();
  for (const std::string& refused :
       {std::string(""), std::string("Bearer wrong"), std::string("Basic bWV0cmljcy1zM2NyZXQ=")}) {
    const std::string page = Get(url, refused);
    EXPECT_EQ(page.rfind("401\n", 0), 0u) << "'" << refused << "': " << page;
    EXPECT_EQ(page.find("zerod_queue_length"), std::string::npos) << page;
  }
  for (const std::string scheme : {"Bearer", "bearer", "BEARER"}) {
    const std::string page = Get(url, scheme + " metrics-s3cret");
    EXPECT_EQ(page.rfind("200\n", 0), 0u) << scheme << ": " << page;
    EXPECT_NE(page.find("\nzerod_queue_length 0"), std::string::npos) << scheme << ": " << page;
  }
  EXPECT_EQ(Zeroctl("--addr " + daemons->addr() + " --token-file " + Path("token") + " shutdown")
                .exit_code,
            0);
  EXPECT_EQ(daemons->Wait(60), 0) << daemons->log();
}

}  // namespace
}  // namespace zerod::e2e
