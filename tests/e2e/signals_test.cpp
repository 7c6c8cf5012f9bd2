// Stop signals as Slurm and mpirun deliver them (daemon/stop_signals.h): one-shot training
// stops at the next step boundary, saves to --save-dir, says where and how to resume, and
// exits 0; the resumed run takes exactly the steps the uninterrupted one takes. Open MPI's
// mpirun forwards SIGUSR1 to every rank; srun delivers SIGTERM to every task, which the
// test does by signalling the ranks themselves.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/e2e/background.h"
#include "tests/e2e/daemons.h"
#include "tests/e2e/run_zerod.h"

namespace {

namespace fs = std::filesystem;
using zerod::e2e::ReadWholeFile;
using zerod::e2e::Result;
using zerod::e2e::RunZerod;

// `mpirun -np 2 zerod ARGS` in the background, its output in a file.
class Background : public zerod::e2e::BackgroundCommand {
 public:
  Background(const std::string& args, const std::string& log)
      : BackgroundCommand(std::string(ZEROD_MPIEXEC) +
                              " --oversubscribe --allow-run-as-root -np 2 " + ZEROD_BIN + " " +
                              args,
                          log) {}
  bool WaitFor(const std::string& text) const { return BackgroundCommand::WaitFor(text, 60); }
  int Wait() { return BackgroundCommand::Wait(60); }
};

// step -> loss from JSON step lines.
std::map<int, double> Losses(const std::string& output) {
  std::map<int, double> losses;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("{", 0) != 0) continue;
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("step")) losses[j["step"].get<int>()] = j["loss"].get<double>();
  }
  return losses;
}

class SignalsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("zerod-signals-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    ASSERT_TRUE(zerod::e2e::PrepareByteCorpus(Path("corpus.bin")));
    std::ofstream(Path("ds.json"))
        << R"({"train_batch_size": 8, "train_micro_batch_size_per_gpu": 2,
      "gradient_clipping": 1.0, "optimizer": {"type": "AdamW", "params": {"lr": 1e-3}},
      "zero_optimization": {"stage": 3, "offload_param": {"device": "cpu"},
                            "offload_optimizer": {"device": "cpu"}}})";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::string Train(const std::string& extra) const {
    return "--train --model " + std::string(ZEROD_SOURCE_DIR) + "/configs/models/tiny-llama" +
           " --ds-config " + Path("ds.json") + " --data " + Path("corpus.bin") +
           " --seq-len 32 --log-format json " + extra;
  }
  // Stops a long run with `deliver` once it has taken 5 steps; returns the step it stopped
  // after (0 when it did not).
  int StopAfterSomeSteps(const std::function<void(Background&)>& deliver, int* exit_code,
                         std::string* log) {
    Background run(Train("--steps 100000 --save-dir " + Path("ckpt")), Path("run.log"));
    EXPECT_TRUE(run.WaitFor("\"step\":5,")) << run.log();
    deliver(run);
    *exit_code = run.Wait();
    *log = run.log();
    const std::string marker = "after step ";
    const size_t at = log->find(marker);
    return at == std::string::npos ? 0 : std::atoi(log->c_str() + at + marker.size());
  }
  fs::path dir_;
};

TEST_F(SignalsTest, SigusrToMpirunSavesAndTheResumedRunTakesTheSameSteps) {
  int exit_code = -1;
  std::string log;
  const int stopped =
      StopAfterSomeSteps([](Background& b) { kill(b.pid(), SIGUSR1); }, &exit_code, &log);
  ASSERT_GT(stopped, 0) << log;
  EXPECT_EQ(exit_code, 0) << log;
  EXPECT_NE(log.find("stopped by SIGUSR1 after step " + std::to_string(stopped) +
                     " of 100000; saved a checkpoint to " + Path("ckpt")),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("--resume " + Path("ckpt")), std::string::npos) << log;
  // Resumed for 5 more steps: the same losses as one run straight through.
  const int until = stopped + 5;
  const Result resumed =
      RunZerod(Train("--steps " + std::to_string(until) + " --resume " + Path("ckpt")));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const Result straight = RunZerod(Train("--steps " + std::to_string(until)));
  ASSERT_EQ(straight.exit_code, 0) << straight.output;
  const auto a = Losses(resumed.output), b = Losses(straight.output);
  ASSERT_EQ(a.size(), 5u) << resumed.output;
  for (const auto& [step, loss] : a) EXPECT_EQ(loss, b.at(step)) << "step " << step;
}

TEST_F(SignalsTest, SigtermToEveryRankSavesAndExitsZero) {
  int exit_code = -1;
  std::string log;
  const int stopped = StopAfterSomeSteps(
      [](Background& b) {
        zerod::e2e::Daemons::SignalChildren(b.pid(), SIGTERM);  // as srun delivers it
      },
      &exit_code, &log);
  ASSERT_GT(stopped, 0) << log;
  EXPECT_EQ(exit_code, 0) << log;
  EXPECT_NE(log.find("stopped by SIGTERM"), std::string::npos) << log;
  EXPECT_TRUE(fs::exists(Path("ckpt/zerod_checkpoint.json")));
}

// A rank that stops answering (SIGSTOP) mid-job: with --collective-timeout 10 every rank
// ends within 30 s, mpirun exits non-zero, and the one message names the stalled rank and
// what it was doing last.
TEST_F(SignalsTest, AStalledRankEndsEveryRankWithinTheTimeoutNamingIt) {
  Background run(Train("--steps 100000 --collective-timeout 10"), Path("stall.log"));
  ASSERT_TRUE(run.WaitFor("\"step\":3,")) << run.log();
  std::vector<pid_t> ranks = zerod::e2e::Daemons::ChildZerods(run.pid());
  ASSERT_EQ(ranks.size(), 2u);
  std::sort(ranks.begin(), ranks.end());  // mpirun starts rank 0 first
  const auto stalled_at = std::chrono::steady_clock::now();
  kill(ranks[1], SIGSTOP);
  const int exit_code = run.Wait();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - stalled_at).count();
  kill(ranks[1], SIGCONT);
  std::printf("stall to exit: %.1f s\n", seconds);
  EXPECT_NE(exit_code, 0) << run.log();
  EXPECT_LT(seconds, 30.0);
  const std::string log = run.log();
  EXPECT_NE(log.find("collective timeout: rank 0 waited 10 s"), std::string::npos) << log;
  // Stopped before the collective, or inside it (a collective of several rounds needs
  // every rank's progress): either way rank 1 is named.
  EXPECT_TRUE(log.find("rank 1 is not running (no heartbeat") != std::string::npos ||
              log.find("rank 1 did not arrive") != std::string::npos ||
              log.find("rank 1 stopped responding inside") != std::string::npos)
      << log;
  EXPECT_EQ(zerod::e2e::Count(log, "collective timeout"), 1) << log;
}

}  // namespace
