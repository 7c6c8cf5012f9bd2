// The per-rank watchdog (engine/comm/watchdog.h) against a rank whose main thread blocks
// outside every MPI wait (the test-only hook ZEROD_TEST_STALL=RANK:STEP): the blocked rank
// is named, with what it was doing, in one report, and every rank is gone within the
// collective timeout plus 10 s. ZEROD_WATCHDOG_ROUNDS=N repeats each case N times (the
// issue asks for 20 of 20; CTest runs one).
#include <gtest/gtest.h>
#include <unistd.h>

#include <signal.h>

#include <chrono>
#include <thread>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/e2e/background.h"
#include "tests/e2e/run_zerod.h"

namespace {

namespace fs = std::filesystem;
using zerod::e2e::BackgroundCommand;

constexpr int kTimeout = 5;  // --collective-timeout, seconds

int Rounds() {
  const char* n = std::getenv("ZEROD_WATCHDOG_ROUNDS");
  return n == nullptr ? 1 : std::max(1, std::atoi(n));
}

class WatchdogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("zerod-watchdog-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    ASSERT_TRUE(zerod::e2e::PrepareByteCorpus(Path("corpus.bin")));
    std::ofstream(Path("ds.json")) << R"({"train_batch_size": 4, "train_micro_batch_size_per_gpu": 2,
      "optimizer": {"type": "AdamW", "params": {"lr": 1e-3}},
      "zero_optimization": {"stage": 3, "offload_param": {"device": "cpu"},
                            "offload_optimizer": {"device": "cpu"}}})";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // One round: `np` ranks, rank `stalled` blocked at step 3. Returns the seconds from the
  // hook's block to the last rank's end.
  double StallRound(int np, int stalled, int round) {
    const std::string tag = "wd" + std::to_string(::getpid()) + "_" + std::to_string(round);
    const std::string cmd =
        std::string(ZEROD_MPIEXEC) + " --oversubscribe --allow-run-as-root -np " +
        std::to_string(np) + " -x ZEROD_TEST_STALL=" + std::to_string(stalled) +
        ":3 -x ZEROD_TEST_TAG=" + tag + " " + ZEROD_BIN + " --train --model " +
        ZEROD_SOURCE_DIR + "/configs/models/tiny-llama --ds-config " + Path("ds.json") +
        " --data " + Path("corpus.bin") + " --seq-len 16 --steps 1000 --collective-timeout " +
        std::to_string(kTimeout);
    BackgroundCommand run(cmd, Path("stall_" + std::to_string(np) + "_" + std::to_string(round) + ".log"));
    EXPECT_TRUE(run.WaitFor("ZEROD_TEST_STALL: blocking")) << run.log();
    const auto blocked = std::chrono::steady_clock::now();
    const auto ranks = zerod::e2e::TaggedZerods(tag);
    EXPECT_EQ(ranks.size(), static_cast<size_t>(np));
    const bool gone = zerod::e2e::AllGone(ranks, kTimeout + 10);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - blocked).count();
    const int exit_code = run.Wait(20);
    const std::string log = run.log();
    std::printf("round %d: world %d, rank %d blocked: every rank gone after %.1f s\n", round, np,
                stalled, seconds);
    EXPECT_TRUE(gone) << log;
    EXPECT_NE(exit_code, 0) << log;
    // Named: by its own watchdog, or by a waiting rank's timeout reading the board.
    const std::string self = "watchdog: rank " + std::to_string(stalled) + " (host ";
    const bool by_watchdog = log.find(self) != std::string::npos;
    const bool by_waiter = log.find("rank " + std::to_string(stalled) + " did not arrive") !=
                           std::string::npos;
    EXPECT_TRUE(by_watchdog || by_waiter) << log;
    EXPECT_NE(log.find("the test stall hook"), std::string::npos) << log;
    // One report.
    EXPECT_EQ(zerod::e2e::Count(log, "collective timeout:") + zerod::e2e::Count(log, "watchdog:"),
              1)
        << log;
    return seconds;
  }
  fs::path dir_;
};

TEST_F(WatchdogTest, AMainThreadBlockedOutsideMpiIsNamedByItsWatchdogAtWorldOne) {
  for (int round = 0; round < Rounds(); ++round) EXPECT_LT(StallRound(1, 0, round), kTimeout + 10);
}

TEST_F(WatchdogTest, ABlockedRankIsNamedAndEveryRankGoneWithinTheTimeoutPlusTen) {
  for (int round = 0; round < Rounds(); ++round) EXPECT_LT(StallRound(2, 1, round), kTimeout + 10);
}

// A rank that was frozen itself (SIGSTOP for longer than the timeout, then SIGCONT) does not
// blame its own main thread: at world 1 nobody else is waiting, and it trains on.
TEST_F(WatchdogTest, ARankFrozenLongerThanTheTimeoutDoesNotBlameItselfWhenItRunsAgain) {
  const std::string tag = "wdfrozen" + std::to_string(::getpid());
  BackgroundCommand run(std::string(ZEROD_MPIEXEC) +
                            " --oversubscribe --allow-run-as-root -np 1 -x ZEROD_TEST_TAG=" + tag +
                            " " + ZEROD_BIN + " --train --model " + ZEROD_SOURCE_DIR +
                            "/configs/models/tiny-llama --ds-config " + Path("ds.json") +
                            " --data " + Path("corpus.bin") +
                            " --seq-len 16 --steps 1000000 --log-format json --collective-timeout " +
                            std::to_string(kTimeout),
                        Path("frozen.log"));
  ASSERT_TRUE(run.WaitFor("\"step\":3,")) << run.log();
  const auto ranks = zerod::e2e::TaggedZerods(tag);
  ASSERT_EQ(ranks.size(), 1u);
  kill(ranks[0], SIGSTOP);
  std::this_thread::sleep_for(std::chrono::seconds(kTimeout + 3));
  kill(ranks[0], SIGCONT);
  const size_t steps_before = run.log().size();
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const std::string log = run.log();
  EXPECT_FALSE(zerod::e2e::AllGone(ranks, 0)) << log;  // still training
  EXPECT_GT(log.size(), steps_before) << "no steps after SIGCONT: " << log;
  EXPECT_EQ(log.find("watchdog:"), std::string::npos) << log;
  EXPECT_EQ(log.find("collective timeout:"), std::string::npos) << log;
}

}  // namespace
