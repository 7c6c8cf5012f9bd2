// The service as users meet it: `mpirun -np 2 zerod --listen ...` daemons with a token,
// driven by the zeroctl binary over loopback. The daemons are shared by the suite's
// tests (in declaration order) and the last test shuts them down.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/e2e/daemons.h"
#include "tests/e2e/run_zerod.h"

namespace zerod::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::vector<json> JsonLines(const std::string& text) {
  std::vector<json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(json::parse(line));
  }
  return out;
}

class ServiceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("zerod-service-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    ASSERT_TRUE(zerod::e2e::PrepareByteCorpus(Path("corpus.bin")));
    Write("ds.json", R"({"train_batch_size": 8, "train_micro_batch_size_per_gpu": 2,
      "gradient_clipping": 1.0, "optimizer": {"type": "AdamW", "params": {"lr": 2e-3}},
      "zero_optimization": {"stage": 3, "offload_param": {"device": "cpu"},
                            "offload_optimizer": {"device": "cpu"}}})");
    Write("token", "s3cret-token\n");
    daemons_ = Daemons::Start(2, "--token-file " + Path("token"), Path("daemons.log"));
    ASSERT_NE(daemons_, nullptr) << ReadWholeFile(Path("daemons.log"));
  }
  static void TearDownTestSuite() {
    daemons_.reset();
    fs::remove_all(dir_);
  }

  static std::string Path(const std::string& name) { return (dir_ / name).string(); }
  static void Write(const std::string& name, const std::string& text) {
    std::ofstream(Path(name)) << text;
  }
  // zeroctl against the daemons, with the token.
  static CtlResult Ctl(const std::string& args) {
    return Zeroctl("--addr " + daemons_->addr() + " --token-file " + Path("token") + " " + args);
  }
  static std::string SubmitArgs(int steps, const std::string& extra = "") {
    return "submit --model " + std::string(ZEROD_SOURCE_DIR) +
           "/configs/models/tiny-llama --ds-config " + Path("ds.json") + " --data " +
           Path("corpus.bin") + " --seq-len 32 --steps " + std::to_string(steps) + " " + extra;
  }
  static json Status(const std::string& job) {
    CtlResult r = Ctl("--json status " + job);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
  }

  static inline fs::path dir_;
  static inline std::unique_ptr<Daemons> daemons_;
};

TEST_F(ServiceTest, SubmitAndWatchToSucceededWithFallingLoss) {
  CtlResult r = Ctl("--json " + SubmitArgs(12, "--wait --name first"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << daemons_->log();
  std::vector<double> losses;
  std::string last_state;
  for (const json& line : JsonLines(r.out)) {
    if (line.contains("step")) losses.push_back(line["step"]["loss"].get<double>());
    if (line.contains("status")) last_state = line["status"]["state"];
  }
  ASSERT_EQ(losses.size(), 12u);
  EXPECT_EQ(last_state, "SUCCEEDED");
  EXPECT_LT(losses.back(), losses.front() - 0.3) << "loss should fall over 12 steps";

  // The job stays loaded after it succeeded: it can still be saved and exported.
  const std::string job = JsonLines(r.out).front()["job_id"];
  CtlResult save = Ctl("checkpoint " + job + " --dir " + Path("ckpt"));
  EXPECT_EQ(save.exit_code, 0) << save.err;
  EXPECT_TRUE(fs::exists(Path("ckpt/zerod_checkpoint.json")));
  EXPECT_TRUE(fs::exists(Path("ckpt/rank_00001_of_00002.safetensors")));
  CtlResult exported = Ctl("export " + job + " --hf " + Path("hf"));
  EXPECT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_TRUE(fs::exists(Path("hf/config.json")));
  EXPECT_TRUE(fs::exists(Path("hf/model.safetensors")));
}

TEST_F(ServiceTest, PausedJobStepsThreeTimesAndReportsMemoryForBothRanks) {
  CtlResult submit = Ctl("--json " + SubmitArgs(10, "--paused"));
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  const std::string job = json::parse(submit.out)["job_id"];
  for (int i = 1; i <= 3; ++i) {
    CtlResult step = Ctl("--json step " + job + " -n 1");
    ASSERT_EQ(step.exit_code, 0) << step.err;
    std::vector<json> lines = JsonLines(step.out);
    ASSERT_EQ(lines.size(), 1u) << step.out;
    EXPECT_EQ(lines[0]["step"].get<int>(), i);
  }
  json status = Status(job);
  EXPECT_EQ(status["state"], "PAUSED");
  EXPECT_EQ(status["steps_done"].get<int>(), 3);

  CtlResult memory = Ctl("--json memory");
  ASSERT_EQ(memory.exit_code, 0) << memory.err;
  std::vector<json> ranks = JsonLines(memory.out);
  ASSERT_EQ(ranks.size(), 2u) << memory.out;
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(ranks[r]["rank"].get<int>(), r);
    EXPECT_EQ(ranks[r]["device"], "cpu");
    EXPECT_GT(ranks[r]["rss_bytes"].get<int64_t>(), 0);
    EXPECT_GT(ranks[r]["param_shard_bytes"].get<int64_t>(), 0);
    EXPECT_GT(ranks[r]["optimizer_shard_bytes"].get<int64_t>(), 0);
  }
  EXPECT_EQ(Ctl("cancel " + job).exit_code, 0);
}

TEST_F(ServiceTest, CancelStopsARunningJob) {
  CtlResult submit = Ctl("--json " + SubmitArgs(100000));
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  const std::string job = json::parse(submit.out)["job_id"];
  for (int i = 0; i < 600 && Status(job)["steps_done"].get<int>() < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_EQ(Status(job)["state"], "RUNNING");
  EXPECT_EQ(Ctl("cancel " + job).exit_code, 0);
  CtlResult watch = Ctl("watch " + job);
  EXPECT_EQ(watch.exit_code, 1) << "watch exits non-zero for a job that did not succeed";
  json status = Status(job);
  EXPECT_EQ(status["state"], "CANCELLED");
  EXPECT_LT(status["steps_done"].get<int>(), 100000);
}

TEST_F(ServiceTest, BadJobsFailWithAReasonAndTheNextGoodJobSucceeds) {
  CtlResult missing = Ctl("submit --model " + Path("no-such-model") + " --ds-config " +
                          Path("ds.json") + " --data " + Path("corpus.bin") + " --steps 2");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("model_dir"), std::string::npos) << missing.err;

  Write("bad_ds.json", R"({"train_batch_size": 8, "train_micro_batch_size_per_gpu": 2,
      "zero_optimization": {"stage": 3, "overlap_comms": true}})");
  CtlResult bad_config = Ctl("submit --model " + std::string(ZEROD_SOURCE_DIR) +
                             "/configs/models/tiny-llama" + " --ds-config " + Path("bad_ds.json") +
                             " --data " + Path("corpus.bin") + " --steps 2 --wait");
  EXPECT_EQ(bad_config.exit_code, 1);
  EXPECT_NE(bad_config.out.find("FAILED"), std::string::npos) << bad_config.out;
  EXPECT_NE(bad_config.err.find("did you mean \"overlap_comm\""), std::string::npos)
      << bad_config.err;
  EXPECT_EQ(Count(bad_config.out + bad_config.err, "did you mean \"overlap_comm\""), 1)
      << "the reason said once:\n"
      << bad_config.out << bad_config.err;

  Write("unreadable.bin", "xx");
  fs::permissions(Path("unreadable.bin"), fs::perms::none);
  CtlResult unreadable = Ctl("submit --model " + std::string(ZEROD_SOURCE_DIR) +
                             "/configs/models/tiny-llama --ds-config " + Path("ds.json") +
                             " --data " + Path("missing.bin") + " --steps 2");
  EXPECT_EQ(unreadable.exit_code, 1);
  EXPECT_NE(unreadable.err.find("data_path"), std::string::npos) << unreadable.err;

  // Training that diverges fails with the reason, not a hang or a dead daemon.
  Write("nan_ds.json", R"({"train_batch_size": 8, "train_micro_batch_size_per_gpu": 2,
      "optimizer": {"type": "AdamW", "params": {"lr": 1e6}}, "zero_optimization": {"stage": 3}})");
  CtlResult diverged = Ctl("submit --model " + std::string(ZEROD_SOURCE_DIR) +
                           "/configs/models/tiny-llama" + " --ds-config " + Path("nan_ds.json") +
                           " --data " + Path("corpus.bin") + " --seq-len 32 --steps 20 --wait");
  EXPECT_EQ(diverged.exit_code, 1);
  EXPECT_NE(diverged.err.find("nan"), std::string::npos) << diverged.out << diverged.err;

  CtlResult good = Ctl(SubmitArgs(2, "--wait"));
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
}

// A finished job that is no longer loaded (another ran since) is exported from the
// checkpoint it saved, by rank 0's process, without the ranks.
TEST_F(ServiceTest, AnUnloadedJobIsExportedFromItsCheckpoint) {
  CtlResult first = Ctl("--json " + SubmitArgs(3, "--wait --save-dir " + Path("first-ckpt")));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string job = JsonLines(first.out).front()["job_id"];
  ASSERT_EQ(Ctl(SubmitArgs(1, "--wait")).exit_code, 0);  // unloads the first
  CtlResult exported = Ctl("export " + job + " --hf " + Path("first-hf"));
  EXPECT_EQ(exported.exit_code, 0) << exported.err;
  EXPECT_TRUE(fs::exists(Path("first-hf/model.safetensors")));
  EXPECT_TRUE(fs::exists(Path("first-hf/config.json")));
  // Without a checkpoint there is nothing to export from: said by name.
  CtlResult second = Ctl("--json " + SubmitArgs(1, "--wait"));
  const std::string unsaved = JsonLines(second.out).front()["job_id"];
  ASSERT_EQ(Ctl(SubmitArgs(1, "--wait")).exit_code, 0);
  CtlResult refused = Ctl("export " + unsaved + " --hf " + Path("x"));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find("not loaded"), std::string::npos) << refused.err;
}

// zeroctl submit --job F.yaml: the job from the file, a flag beside it winning.
TEST_F(ServiceTest, SubmitTakesAYamlJobFile) {
  Write("job.yaml", "model: " + std::string(ZEROD_SOURCE_DIR) +
                        "/configs/models/tiny-llama\nds_config: " + Path("ds.json") +
                        "\ndata: " + Path("corpus.bin") + "\nsteps: 50\nseq_len: 32\n");
  CtlResult r = Ctl("--json submit --job " + Path("job.yaml") + " --steps 2 --wait");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string job = JsonLines(r.out).front()["job_id"];
  json status = Status(job);
  EXPECT_EQ(status["state"], "SUCCEEDED");
  EXPECT_EQ(status["steps_done"].get<int>(), 2);
}

// `zeroctl submit --tensorboard DIR`: each job of the service writes its own run,
// DIR/<job id>, read back by TensorBoard's own reader (tests/tools/read_tensorboard.py).
TEST_F(ServiceTest, SubmitWithTensorboardWritesTheJobsOwnRun) {
  CtlResult r = Ctl("--json " + SubmitArgs(3, "--wait --tensorboard " + Path("tb")));
  ASSERT_EQ(r.exit_code, 0) << r.err << daemons_->log();
  const std::string job = JsonLines(r.out).front()["job_id"];
  std::vector<double> losses;
  for (const json& line : JsonLines(r.out)) {
    if (line.contains("step")) losses.push_back(line["step"]["loss"].get<double>());
  }
  Result tb = RunCommand(std::string(ZEROD_SOURCE_DIR) + "/.venv/bin/python " + ZEROD_SOURCE_DIR +
                         "/tests/tools/read_tensorboard.py " + Path("tb/" + job) + " 2>/dev/null");
  ASSERT_EQ(tb.exit_code, 0) << tb.output;
  const json loss = json::parse(tb.output)["scalars"]["Train/Samples/train_loss"];
  ASSERT_EQ(loss.size(), 3u) << tb.output;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_FLOAT_EQ(loss[i][1].get<float>(), static_cast<float>(losses[i])) << "step " << i + 1;
  }
}

// zeroctl report: a 12-step job's page holds every step's loss, the facts and the ranks'
// memory, and its loss line falls; --json step lines gain "memory" (both ranks) and keep
// their own fields.
TEST_F(ServiceTest, ReportWritesASelfContainedPageWhoseLossLineFalls) {
  CtlResult r = Ctl("--json " + SubmitArgs(12, "--wait --name report"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err << daemons_->log();
  const std::string job = JsonLines(r.out).front()["job_id"];
  std::vector<double> losses;
  int with_memory = 0;
  for (const json& line : JsonLines(r.out)) {
    if (!line.contains("step")) continue;
    losses.push_back(line["step"]["loss"].get<double>());
    EXPECT_TRUE(line["step"].contains("forward_seconds")) << line.dump();
    if (line.contains("memory")) {
      ++with_memory;
      EXPECT_EQ(line["memory"]["step"], line["step"]["step"]);
      EXPECT_EQ(line["memory"]["ranks"].size(), 2u) << line.dump();
    }
  }
  ASSERT_EQ(losses.size(), 12u);
  EXPECT_LT(losses.back(), losses.front() - 0.3);
  EXPECT_GE(with_memory, 1) << "GetMemoryStats is polled once per second at most, not never";

  CtlResult report = Ctl("--json report " + job + " --html " + Path("report.html"));
  ASSERT_EQ(report.exit_code, 0) << report.err;
  const json said = json::parse(report.out);
  EXPECT_EQ(said["steps"], 12);
  EXPECT_EQ(said["state"], "SUCCEEDED");
  const std::string html = ReadWholeFile(Path("report.html"));
  ASSERT_FALSE(html.empty());
  for (const char* chart :
       {"<svg id=\"loss\"", "<svg id=\"lr\"", "<svg id=\"tokens\"", "<svg id=\"memory\""})
    EXPECT_NE(html.find(chart), std::string::npos) << chart;
  for (double loss : losses) {
    char text[32];
    std::snprintf(text, sizeof text, "<td class=\"num\">%.4f</td>", loss);
    EXPECT_NE(html.find(text), std::string::npos) << text;
  }
  for (const std::string fact :
       {job, std::string("SUCCEEDED"), std::string("12 / 12"), std::string("tiny-llama"),
        std::string("float32"), std::string("Memory per rank at step 12")})
    EXPECT_NE(html.find(fact), std::string::npos) << fact;
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  // The loss line's first point sits above its last (SVG's y grows downwards).
  const size_t at = html.find("points=\"", html.find("<svg id=\"loss\"")) + 8;
  std::istringstream points(html.substr(at, html.find('"', at) - at));
  std::vector<double> ys;
  for (std::string xy; points >> xy;) ys.push_back(std::stod(xy.substr(xy.find(',') + 1)));
  ASSERT_EQ(ys.size(), 12u);
  EXPECT_LT(ys.front(), ys.back());
}

// The page opened by a real browser: Debian's headless Chromium renders it to a PNG. Skipped
// where chromium is not installed (tests/tools/report_screenshot.sh does the same by hand).
TEST_F(ServiceTest, ReportRendersInHeadlessChromium) {
  if (std::system("command -v chromium > /dev/null 2>&1") != 0)
    GTEST_SKIP() << "chromium is not installed (apt-get install -y chromium): no screenshot";
  ASSERT_TRUE(fs::exists(Path("report.html"))) << "written by the test before";
  const Result shot = RunCommand("HOME=" + Path("") +
                                 " timeout 120 chromium --headless --no-sandbox --disable-gpu "
                                 "--hide-scrollbars --window-size=1200,1600 --screenshot=" +
                                 Path("report.png") + " file://" + Path("report.html") + " 2>&1");
  ASSERT_EQ(shot.exit_code, 0) << shot.output;
  const std::string png = ReadWholeFile(Path("report.png"));
  ASSERT_GT(png.size(), 10000u) << "an empty page would compress to a few KB";
  EXPECT_EQ(png.substr(1, 3), "PNG");
}

// A job still going gets a snapshot: the report returns at once with the steps so far.
TEST_F(ServiceTest, ReportOfAPausedJobIsASnapshot) {
  CtlResult submit = Ctl("--json " + SubmitArgs(10, "--paused"));
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  const std::string job = json::parse(submit.out)["job_id"];
  ASSERT_EQ(Ctl("step " + job + " -n 2").exit_code, 0);
  CtlResult report = Ctl("--json report " + job + " --html " + Path("paused.html"));
  ASSERT_EQ(report.exit_code, 0) << report.err;
  EXPECT_EQ(json::parse(report.out)["steps"], 2);
  EXPECT_EQ(json::parse(report.out)["state"], "PAUSED");
  EXPECT_NE(ReadWholeFile(Path("paused.html")).find("PAUSED at step 2 of 10"), std::string::npos);
  EXPECT_EQ(Ctl("cancel " + job).exit_code, 0);
}

// `zerod --train` runs the service's own scheduler and rank loop in-process: the same job
// gives the same step losses, the same checkpoint shards and the same exported weights,
// byte for byte, as when it is submitted to the daemons.
TEST_F(ServiceTest, OneShotTrainingGivesTheServicesStepsCheckpointAndExport) {
  CtlResult service = Ctl("--json " + SubmitArgs(4, "--wait --save-dir " + Path("svc_ckpt") +
                                                        " --export-hf " + Path("svc_hf")));
  ASSERT_EQ(service.exit_code, 0) << service.out << service.err << daemons_->log();
  const Result one_shot =
      RunZerod("--train --model " + std::string(ZEROD_SOURCE_DIR) + "/configs/models/tiny-llama" +
               " --ds-config " + Path("ds.json") + " --data " + Path("corpus.bin") +
               " --seq-len 32 --steps 4 --log-format json --save-dir " + Path("os_ckpt") +
               " --export-hf " + Path("os_hf"));
  ASSERT_EQ(one_shot.exit_code, 0) << one_shot.output;

  std::vector<double> service_losses, one_shot_losses;
  for (const json& line : JsonLines(service.out)) {
    if (line.contains("step")) service_losses.push_back(line["step"]["loss"].get<double>());
  }
  std::istringstream lines(one_shot.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("{\"", 0) == 0) one_shot_losses.push_back(json::parse(line)["loss"]);
  }
  ASSERT_EQ(service_losses.size(), 4u) << service.out;
  EXPECT_EQ(one_shot_losses, service_losses) << one_shot.output;
  for (const char* file :
       {"/rank_00000_of_00002.safetensors", "/rank_00001_of_00002.safetensors"}) {
    const std::string saved = ReadWholeFile(Path("svc_ckpt") + file);
    EXPECT_FALSE(saved.empty()) << file;
    EXPECT_TRUE(saved == ReadWholeFile(Path("os_ckpt") + file)) << file << " differs";
  }
  const std::string exported = ReadWholeFile(Path("svc_hf/model.safetensors"));
  EXPECT_FALSE(exported.empty());
  EXPECT_TRUE(exported == ReadWholeFile(Path("os_hf/model.safetensors"))) << "exports differ";
  EXPECT_NE(one_shot.output.find("saved a checkpoint to " + Path("os_ckpt")), std::string::npos);
  EXPECT_NE(one_shot.output.find("exported Hugging Face weights to " + Path("os_hf")),
            std::string::npos);
}

TEST_F(ServiceTest, CallsWithoutTheTokenAreRefused) {
  CtlResult no_token = Zeroctl("--addr " + daemons_->addr() + " list");
  EXPECT_EQ(no_token.exit_code, 1);
  EXPECT_NE(no_token.err.find("token"), std::string::npos) << no_token.err;
  Write("wrong", "not-the-token\n");
  CtlResult wrong =
      Zeroctl("--addr " + daemons_->addr() + " --token-file " + Path("wrong") + " list");
  EXPECT_EQ(wrong.exit_code, 1);
}

TEST_F(ServiceTest, AnUnreachableAddressSaysHowToStartTheDaemons) {
  CtlResult r = Zeroctl("--addr 127.0.0.1:1 health");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("127.0.0.1:1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("mpirun"), std::string::npos) << r.err;
}

// gRPC's default SO_REUSEPORT would let a second daemon set share the port, and calls
// would land on either at random: the second set must refuse, naming the address.
TEST_F(ServiceTest, ASecondDaemonSetOnTheSamePortExitsNamingTheAddress) {
  const Result second = RunCommand(std::string("timeout 120 ") + ZEROD_MPIEXEC +
                                   " --oversubscribe --allow-run-as-root -np 2 " + ZEROD_BIN +
                                   " --listen " + daemons_->addr() + " 2>&1");
  EXPECT_NE(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("cannot listen on " + daemons_->addr()), std::string::npos)
      << second.output;
  EXPECT_EQ(Ctl("health").exit_code, 0);  // the first set still serves
}

TEST_F(ServiceTest, IdleRanksUseUnderHalfACpuSecondIn10Seconds) {
  std::vector<pid_t> ranks = daemons_->RankPids();
  ASSERT_EQ(ranks.size(), 2u);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // let the last job's teardown end
  std::vector<double> before;
  for (pid_t p : ranks) before.push_back(CpuSeconds(p));
  std::this_thread::sleep_for(std::chrono::seconds(10));
  for (size_t i = 0; i < ranks.size(); ++i) {
    const double used = CpuSeconds(ranks[i]) - before[i];
    std::printf("rank pid %d: %.3f CPU s in 10 idle s\n", ranks[i], used);
    EXPECT_LT(used, 0.5);
  }
}

TEST_F(ServiceTest, ShutdownEndsEveryRankWithExitCode0) {
  EXPECT_EQ(Ctl("shutdown").exit_code, 0);
  EXPECT_EQ(daemons_->Wait(60), 0) << daemons_->log();
  EXPECT_NE(daemons_->log().find("zerod: shut down"), std::string::npos);
}

// TLS with a self-signed certificate: zeroctl with the certificate as its root gets in;
// a plaintext client does not.
TEST(TlsServiceTest, ServesTlsToClientsThatTrustTheCertificate) {
  const fs::path dir = fs::temp_directory_path() / ("zerod-tls-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string cert = (dir / "cert.pem").string(), key = (dir / "key.pem").string();
  const std::string openssl =
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -addext "
      "subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
      key + " -out " + cert + " > /dev/null 2>&1";
  ASSERT_EQ(std::system(openssl.c_str()), 0);
  auto daemons =
      Daemons::Start(1, "--tls-cert " + cert + " --tls-key " + key, (dir / "daemons.log").string());
  ASSERT_NE(daemons, nullptr) << ReadWholeFile((dir / "daemons.log").string());
  CtlResult tls = Zeroctl("--addr " + daemons->addr() + " --tls-ca " + cert + " health");
  EXPECT_EQ(tls.exit_code, 0) << tls.err;
  EXPECT_NE(tls.out.find("1 ranks"), std::string::npos) << tls.out;
  CtlResult plain = Zeroctl("--addr " + daemons->addr() + " health");
  EXPECT_EQ(plain.exit_code, 1);
  EXPECT_EQ(Zeroctl("--addr " + daemons->addr() + " --tls-ca " + cert + " shutdown").exit_code, 0);
  EXPECT_EQ(daemons->Wait(60), 0) << daemons->log();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace zerod::e2e
