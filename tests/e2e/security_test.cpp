// Who gets in, and who shares the state: a second daemon set on a state dir the first
// holds is refused naming the first, every rank of it exiting 1, the journal untouched; a
// --listen other hosts reach is refused without a token, and served with --insecure-listen
// only with a warning in the log that says so.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/e2e/daemons.h"
#include "tests/e2e/run_zerod.h"

namespace zerod::e2e {
namespace {

namespace fs = std::filesystem;

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("zerod-security-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

std::string HostName() {
  char name[256] = {};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

TEST_F(SecurityTest, ASecondDaemonSetOnALockedStateDirIsRefusedNamingTheFirst) {
  const std::string state = Path("state");
  auto first = Daemons::Start(2, "--state-dir " + state, Path("first.log"));
  ASSERT_NE(first, nullptr) << ReadWholeFile(Path("first.log"));
  const std::string ctl = "--addr " + first->addr() + " ";
  ASSERT_EQ(Zeroctl(ctl + "list").exit_code, 0);
  const std::string journal_before = ReadWholeFile(state + "/jobs.jsonl");
  const auto journal_time = fs::last_write_time(state + "/jobs.jsonl");

  // Each rank of the second set says its own exit code.
  const Result second = RunCommand(
      std::string("timeout 120 ") + ZEROD_MPIEXEC + " --oversubscribe --allow-run-as-root -np 2 " +
      "sh -c '" + ZEROD_BIN + " --listen 127.0.0.1:0 --state-dir " + state +
      "; rc=$?; echo \"rank $OMPI_COMM_WORLD_RANK exited $rc\"; exit $rc' 2>&1");
  EXPECT_NE(second.exit_code, 0) << second.output;
  EXPECT_EQ(Count(second.output, "zerod: error"), 1) << second.output;
  EXPECT_NE(second.output.find("--state-dir " + state + " is in use by another zerod daemon set"),
            std::string::npos)
      << second.output;
  // The first set's rank 0, its host and its bound address.
  const std::vector<pid_t> ranks = first->RankPids();
  const bool names_a_rank = std::any_of(ranks.begin(), ranks.end(), [&](pid_t p) {
    return second.output.find("pid " + std::to_string(p) + " on host " + HostName() + ",") !=
           std::string::npos;
  });
  EXPECT_TRUE(names_a_rank) << second.output;
  EXPECT_NE(second.output.find("coordinator at " + first->addr()), std::string::npos)
      << second.output;
  EXPECT_NE(second.output.find("rank 0 exited 1"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("rank 1 exited 1"), std::string::npos) << second.output;
  EXPECT_EQ(second.output.find("coordinator listening"), std::string::npos) << second.output;

  EXPECT_EQ(ReadWholeFile(state + "/jobs.jsonl"), journal_before);
  EXPECT_EQ(fs::last_write_time(state + "/jobs.jsonl"), journal_time) << "the journal untouched";
  EXPECT_EQ(Zeroctl(ctl + "health").exit_code, 0) << "the first set still serves";
  EXPECT_EQ(Zeroctl(ctl + "shutdown").exit_code, 0);
  EXPECT_EQ(first->Wait(60), 0) << first->log();
}

TEST_F(SecurityTest, ANonLoopbackListenWithoutATokenIsRefusedOnEveryRank) {
  const Result r = RunZerod("--listen 0.0.0.0:0");
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_EQ(Count(r.output, "zerod: error"), 1) << r.output;
  EXPECT_NE(r.output.find("zerod: error: --listen 0.0.0.0:0 can be reached from other hosts and "
                          "no --token-file is set"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("--insecure-listen"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("coordinator listening"), std::string::npos) << r.output;
}

TEST_F(SecurityTest, InsecureListenServesOtherHostsAndTheLogSaysItIsInsecure) {
  auto daemons = Daemons::Start(1, "--insecure-listen", Path("daemons.log"), "0.0.0.0:0");
  ASSERT_NE(daemons, nullptr) << ReadWholeFile(Path("daemons.log"));
  ASSERT_TRUE(
      daemons->WaitForLog("zerod: WARNING: INSECURE (--insecure-listen): the coordinator "
                          "on 0.0.0.0:0 serves every caller without a token",
                          10))
      << daemons->log();
  const std::string port = daemons->addr().substr(daemons->addr().rfind(':') + 1);
  const std::string ctl = "--addr 127.0.0.1:" + port + " ";
  EXPECT_EQ(Zeroctl(ctl + "health").exit_code, 0);
  EXPECT_EQ(Zeroctl(ctl + "shutdown").exit_code, 0);
  EXPECT_EQ(daemons->Wait(60), 0) << daemons->log();
}

TEST_F(SecurityTest, ATokenWithoutTlsOnANonLoopbackListenWarnsOfClearText) {
  std::ofstream(Path("token")) << "s3cret\n";
  auto daemons =
      Daemons::Start(1, "--token-file " + Path("token"), Path("daemons.log"), "0.0.0.0:0");
  ASSERT_NE(daemons, nullptr) << ReadWholeFile(Path("daemons.log"));
  EXPECT_TRUE(daemons->WaitForLog(
      "zerod: WARNING: the coordinator on 0.0.0.0:0 takes the token in clear text (no TLS)", 10))
      << daemons->log();
  const std::string port = daemons->addr().substr(daemons->addr().rfind(':') + 1);
  const std::string ctl = "--addr 127.0.0.1:" + port + " --token-file " + Path("token") + " ";
  EXPECT_EQ(Zeroctl(ctl + "shutdown").exit_code, 0);
  EXPECT_EQ(daemons->Wait(60), 0) << daemons->log();
}

}  // namespace
}  // namespace zerod::e2e
