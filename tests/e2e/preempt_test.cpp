// The service stopped from outside, as Slurm does before its time limit (`--signal`) and
// mpirun forwards SIGUSR1: the running job saves to its save_dir and ends PREEMPTED with
// the checkpoint's path, queued jobs are cancelled, every rank exits 0.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/e2e/daemons.h"
#include "tests/e2e/run_zerod.h"

namespace {

namespace fs = std::filesystem;
using zerod::e2e::CtlResult;
using zerod::e2e::Daemons;
using zerod::e2e::ReadWholeFile;
using zerod::e2e::Zeroctl;

// A scratch directory with the byte corpus (corpus.bin) and a two-rank CPU config
// (ds.json), the inputs of these tests' jobs; removed at the end.
class JobDir {
 public:
  explicit JobDir(const std::string& name)
      : dir_(fs::temp_directory_path() / (name + std::to_string(::getpid()))) {
    fs::create_directories(dir_);
    EXPECT_TRUE(zerod::e2e::PrepareByteCorpus(Path("corpus.bin")));
    std::ofstream(Path("ds.json")) << R"({"train_batch_size": 8,
      "train_micro_batch_size_per_gpu": 2,
      "zero_optimization": {"stage": 3, "offload_param": {"device": "cpu"},
                            "offload_optimizer": {"device": "cpu"}}})";
  }
  ~JobDir() { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  fs::path dir_;
};

TEST(PreemptTest, ASignalSavesTheRunningJobAsPreemptedAndTheDaemonsExitZero) {
  const JobDir scratch("zerod-preempt-");
  auto path = [&](const std::string& name) { return scratch.Path(name); };
  std::ofstream(path("ds.json")) << R"({"train_batch_size": 8, "train_micro_batch_size_per_gpu": 2,
      "optimizer": {"type": "AdamW", "params": {"lr": 1e-3}},
      "zero_optimization": {"stage": 3, "offload_param": {"device": "cpu"},
                            "offload_optimizer": {"device": "cpu"}}})";
  auto daemons = Daemons::Start(2, "", path("daemons.log"));
  ASSERT_NE(daemons, nullptr) << ReadWholeFile(path("daemons.log"));
  const std::string submit = "--addr " + daemons->addr() + " submit --model " +
                             std::string(ZEROD_SOURCE_DIR) + "/configs/models/tiny-llama" +
                             " --ds-config " + path("ds.json") + " --data " + path("corpus.bin") +
                             " --seq-len 32 --steps 100000 --save-dir " + path("ckpt");
  CtlResult first = Zeroctl(submit);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  CtlResult second = Zeroctl(submit);  // queued behind the first
  ASSERT_EQ(second.exit_code, 0) << second.err;
  ASSERT_TRUE(daemons->WaitForLog(" step 3/")) << daemons->log();
  kill(daemons->pid(), SIGUSR1);  // mpirun forwards it to every rank
  EXPECT_EQ(daemons->Wait(60), 0) << daemons->log();
  const std::string log = daemons->log();
  EXPECT_NE(log.find("job-1 ended PREEMPTED: stopped by SIGUSR1 after step "), std::string::npos)
      << log;
  EXPECT_NE(log.find("checkpoint in " + path("ckpt") + ": resubmit with --resume"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("zerod: shut down"), std::string::npos) << log;
  EXPECT_TRUE(fs::exists(path("ckpt/zerod_checkpoint.json")));
}

// The job journal (--state-dir): a rank killed with SIGKILL mid-job (rank 1, then rank 0)
// takes the daemons down; zeroctl, pointed at the state directory, says they crashed at
// which step (so does a watch of the job, whose stream broke mid-job); restarted daemons
// list the job as INTERRUPTED and number new jobs after it.
TEST(JournalTest, AJobRunningWhenARankIsKilledIsInterruptedAfterARestart) {
  const JobDir scratch("zerod-journal-");
  auto path = [&](const std::string& name) { return scratch.Path(name); };
  const std::string state = "--state-dir " + path("state");
  for (int victim : {1, 0}) {
    const std::string tag = std::to_string(victim);
    auto daemons = Daemons::Start(2, state, path("daemons" + tag + ".log"));
    ASSERT_NE(daemons, nullptr) << ReadWholeFile(path("daemons" + tag + ".log"));
    CtlResult submitted =
        Zeroctl("--addr " + daemons->addr() + " submit --model " + std::string(ZEROD_SOURCE_DIR) +
                "/configs/models/tiny-llama" + " --ds-config " + path("ds.json") + " --data " +
                path("corpus.bin") + " --seq-len 32 --steps 100000");
    ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
    const std::string job = submitted.out.substr(0, submitted.out.find_first_of(" \n"));
    ASSERT_TRUE(daemons->WaitForLog(job + " step 3/")) << daemons->log();
    // A watch following the job when the rank dies.
    auto watch = std::async(std::launch::async, Zeroctl,
                            "--addr " + daemons->addr() + " " + state + " watch " + job);
    std::this_thread::sleep_for(std::chrono::seconds(2));
    std::vector<pid_t> ranks = Daemons::ChildZerods(daemons->pid());
    ASSERT_EQ(ranks.size(), 2u);
    std::sort(ranks.begin(), ranks.end());
    kill(ranks[victim], SIGKILL);
    EXPECT_NE(daemons->Wait(60), 0) << daemons->log();
    const std::string addr = daemons->addr();
    // It says the daemons went away mid-job, and the journal's account, not how to start them.
    const CtlResult watched = watch.get();
    EXPECT_EQ(watched.exit_code, 1) << watched.err;
    EXPECT_NE(watched.err.find("the zerod daemons at " + addr + " went away while " + job +
                               " was RUNNING (last seen at step "),
              std::string::npos)
        << watched.err;
    EXPECT_NE(watched.err.find("they crashed or were killed: " + job), std::string::npos)
        << watched.err;
    EXPECT_EQ(watched.err.find("Start the daemons first"), std::string::npos) << watched.err;
    CtlResult down = Zeroctl("--addr " + addr + " " + state + " health");
    EXPECT_EQ(down.exit_code, 1);
    EXPECT_NE(down.err.find("they crashed or were killed: " + job +
                            ": the daemons ended while it was RUNNING at step "),
              std::string::npos)
        << down.err;
    daemons.reset();

    auto again = Daemons::Start(2, state, path("restarted" + tag + ".log"));
    ASSERT_NE(again, nullptr) << ReadWholeFile(path("restarted" + tag + ".log"));
    CtlResult list = Zeroctl("--addr " + again->addr() + " list");
    EXPECT_NE(list.out.find(job), std::string::npos) << list.out;
    EXPECT_NE(list.out.find("INTERRUPTED"), std::string::npos) << list.out;
    EXPECT_EQ(Zeroctl("--addr " + again->addr() + " shutdown").exit_code, 0);
    EXPECT_EQ(again->Wait(60), 0) << again->log();
  }
}

// The probe: after kill -9 mid-job with --save-every, the advice "resubmit with --resume
// SAVE_DIR" was refused, the checkpoints being SAVE_DIR/step_NNNNNNNN. Now the advice
// names the newest complete one, and --resume SAVE_DIR takes it.
TEST(JournalTest, TheAdviceAfterACrashNamesTheNewestCheckpointAndResumesFromIt) {
  const JobDir scratch("zerod-advice-");
  auto path = [&](const std::string& name) { return scratch.Path(name); };
  const std::string state = "--state-dir " + path("state"), save = path("save");
  const std::string job_args = " --model " + std::string(ZEROD_SOURCE_DIR) +
                               "/configs/models/tiny-llama --ds-config " + path("ds.json") +
                               " --data " + path("corpus.bin") + " --seq-len 32 ";
  auto daemons = Daemons::Start(2, state, path("daemons.log"));
  ASSERT_NE(daemons, nullptr) << ReadWholeFile(path("daemons.log"));
  CtlResult submitted = Zeroctl("--addr " + daemons->addr() + " submit" + job_args +
                                "--steps 100000 --save-dir " + save + " --save-every 2");
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string job = submitted.out.substr(0, submitted.out.find_first_of(" \n"));
  ASSERT_TRUE(daemons->WaitForLog("saved " + save + "/step_00000004", 120)) << daemons->log();
  std::vector<pid_t> ranks = Daemons::ChildZerods(daemons->pid());
  ASSERT_EQ(ranks.size(), 2u);
  kill(ranks[0], SIGKILL);
  kill(ranks[1], SIGKILL);
  EXPECT_NE(daemons->Wait(60), 0);
  daemons.reset();

  auto again = Daemons::Start(2, state, path("restarted.log"));
  ASSERT_NE(again, nullptr) << ReadWholeFile(path("restarted.log"));
  const std::string ctl = "--addr " + again->addr() + " ";
  CtlResult status = Zeroctl(ctl + "--json status " + job);
  ASSERT_EQ(status.exit_code, 0) << status.err;
  const std::string reason = nlohmann::json::parse(status.out).value("reason", "");
  const std::string marker = "resubmit with --resume ";
  const size_t at = reason.find(marker);
  ASSERT_NE(at, std::string::npos) << reason;
  const std::string newest = reason.substr(at + marker.size());
  ASSERT_EQ(newest.rfind(save + "/step_", 0), 0u) << reason;
  const int step = std::stoi(newest.substr(newest.size() - 8));
  EXPECT_GE(step, 4);
  // As a user reads it: --resume with the save directory continues from there.
  CtlResult resumed = Zeroctl(ctl + "submit" + job_args + "--wait --resume " + save + " --steps " +
                              std::to_string(step + 1));
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err << again->log();
  EXPECT_NE(again->log().find("resuming from " + newest + " at step " + std::to_string(step)),
            std::string::npos)
      << again->log();
  EXPECT_EQ(Zeroctl(ctl + "shutdown").exit_code, 0);
  EXPECT_EQ(again->Wait(60), 0) << again->log();
}

// A rank that stops answering in the middle of a service job (SIGSTOP of rank 1, a 10 s
// collective timeout): every rank ends within 30 s, the log names rank 1, and the journal
// holds the job as FAILED with that reason.
void StallServiceRank(int victim, bool expect_failed_in_journal);

TEST(JournalTest, AStalledRankFailsTheServiceJobInTheJournal) { StallServiceRank(1, true); }

// Rank 0 stalled between two steps: the workers' wait for the next command of a running
// job is bounded too; the job shows INTERRUPTED after a restart (rank 0 could not write).
TEST(JournalTest, AStalledRankZeroEndsTheWorkersWithinTheTimeout) { StallServiceRank(0, false); }

void StallServiceRank(int victim, bool expect_failed_in_journal) {
  const JobDir scratch("zerod-stall-" + std::to_string(victim));
  auto path = [&](const std::string& name) { return scratch.Path(name); };
  auto daemons = Daemons::Start(2, "--collective-timeout 10 --state-dir " + path("state"),
                                path("daemons.log"));
  ASSERT_NE(daemons, nullptr) << ReadWholeFile(path("daemons.log"));
  CtlResult submitted =
      Zeroctl("--addr " + daemons->addr() + " submit --model " + std::string(ZEROD_SOURCE_DIR) +
              "/configs/models/tiny-llama" + " --ds-config " + path("ds.json") + " --data " +
              path("corpus.bin") + " --seq-len 32 --steps 100000");
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  ASSERT_TRUE(daemons->WaitForLog("job-1 step 3/")) << daemons->log();
  std::vector<pid_t> ranks = Daemons::ChildZerods(daemons->pid());
  ASSERT_EQ(ranks.size(), 2u);
  std::sort(ranks.begin(), ranks.end());
  const auto stalled_at = std::chrono::steady_clock::now();
  kill(ranks[victim], SIGSTOP);
  EXPECT_NE(daemons->Wait(30), 0) << daemons->log();
  kill(ranks[victim], SIGCONT);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - stalled_at).count();
  std::printf("service: stall to exit %.1f s\n", seconds);
  EXPECT_LT(seconds, 30.0);
  EXPECT_NE(daemons->log().find("rank " + std::to_string(victim) + " "), std::string::npos)
      << daemons->log();
  const std::string journal = ReadWholeFile(path("state/jobs.jsonl"));
  if (expect_failed_in_journal) {
    EXPECT_NE(journal.find("\"state\":\"FAILED\""), std::string::npos) << journal;
    EXPECT_NE(journal.find("collective timeout"), std::string::npos) << journal;
  } else {
    EXPECT_NE(journal.find("\"state\":\"RUNNING\""), std::string::npos) << journal;
  }
}

}  // namespace
