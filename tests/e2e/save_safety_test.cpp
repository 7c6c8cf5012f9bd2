// Saves that lose nothing, as a user of the service meets them (`mpirun -np 2 zerod
// --state-dir ...` driven by zeroctl): a save or export target holding other files, or the
// daemons' own state dir, is refused at submit and by `zeroctl checkpoint`, with nothing
// touched; a save into a full file system (a small tmpfs) leaves the previous checkpoint as
// it was, removes its partial files, and keeps the job loaded so `zeroctl checkpoint
// --dir` saves it elsewhere; periodic saves that fail are reported while training goes on,
// and three in a row end the job the same way. The tmpfs tests need mount(2) (root, as CI
// runs); elsewhere they skip, saying so.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "nlohmann/json.hpp"
#include "tests/e2e/daemons.h"
#include "tests/e2e/run_zerod.h"

namespace zerod::e2e {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class SaveSafetyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("zerod-saves-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    ASSERT_TRUE(PrepareByteCorpus(Path("corpus.bin")));
    std::ofstream(Path("ds.json")) << R"({"train_batch_size": 8,
      "train_micro_batch_size_per_gpu": 2, "optimizer": {"type": "AdamW", "params": {"lr": 1e-3}},
      "zero_optimization": {"stage": 3, "offload_param": {"device": "cpu"},
                            "offload_optimizer": {"device": "cpu"}}})";
    daemons_ = Daemons::Start(2, "--state-dir " + Path("state"), Path("daemons.log"));
    ASSERT_NE(daemons_, nullptr) << ReadWholeFile(Path("daemons.log"));
  }
  static void TearDownTestSuite() {
    if (daemons_ != nullptr) {
      (void)Ctl("shutdown");
      daemons_->Wait(60);
      daemons_.reset();
    }
    fs::remove_all(dir_);
  }

  static std::string Path(const std::string& name) { return (dir_ / name).string(); }
  static CtlResult Ctl(const std::string& args) {
    return Zeroctl("--addr " + daemons_->addr() + " " + args);
  }
  static std::string Submit(int steps, const std::string& extra) {
    return "submit --model " + std::string(ZEROD_SOURCE_DIR) +
           "/configs/models/tiny-llama --ds-config " + Path("ds.json") + " --data " +
           Path("corpus.bin") + " --seq-len 32 --steps " + std::to_string(steps) + " " + extra;
  }
  static std::string JobId(const CtlResult& r) {
    return r.out.substr(0, r.out.find_first_of(" \n"));
  }
  static json Status(const std::string& job) {
    CtlResult r = Ctl("--json status " + job);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return json::parse(r.out);
  }
  static int64_t MetaStep(const std::string& checkpoint) {
    std::ifstream in(checkpoint + "/zerod_checkpoint.json");
    if (!in) return -1;
    return json::parse(in).value("step", -1);
  }
  // The user's directory of the issue's probe.
  static std::string UsersDir(const std::string& name) {
    fs::create_directories(Path(name + "/sub"));
    std::ofstream(Path(name + "/notes.txt")) << "important";
    return Path(name);
  }
  static void ExpectIntact(const std::string& dir) {
    EXPECT_EQ(ReadWholeFile(dir + "/notes.txt"), "important");
    EXPECT_TRUE(fs::is_directory(dir + "/sub"));
  }

  // A tmpfs of `bytes` at `name`, unmounted by the test's end; false (and the test
  // skips) where this process may not mount.
  bool MountTmpfs(const std::string& name, int64_t bytes) {
    fs::create_directories(Path(name));
    const std::string size = "size=" + std::to_string(bytes);
    if (::mount("tmpfs", Path(name).c_str(), "tmpfs", 0, size.c_str()) != 0) return false;
    mounted_ = Path(name);
    return true;
  }
  void TearDown() override {
    if (!mounted_.empty()) ::umount2(mounted_.c_str(), MNT_DETACH);
  }
  // The bytes of one checkpoint of the tiny model at 2 ranks, measured once.
  static int64_t CheckpointBytes() {
    static int64_t bytes = [] {
      CtlResult r = Ctl(Submit(1, "--save-dir " + Path("measure") + " --wait"));
      EXPECT_EQ(r.exit_code, 0) << r.err << daemons_->log();
      int64_t total = 0;
      for (const auto& e : fs::directory_iterator(Path("measure"))) total += e.file_size();
      return total;
    }();
    return bytes;
  }

  static inline fs::path dir_;
  static inline std::unique_ptr<Daemons> daemons_;
  std::string mounted_;
};

TEST_F(SaveSafetyTest, ASaveDirHoldingOtherFilesIsRefusedAtSubmitAndLeftAsItWas) {
  const std::string p = UsersDir("p");
  CtlResult r = Ctl(Submit(2, "--save-dir " + p + " --wait"));
  EXPECT_NE(r.exit_code, 0) << r.out;
  EXPECT_NE(r.err.find("save_dir: " + p + " holds "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("notes.txt"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sub/"), std::string::npos) << r.err;
  ExpectIntact(p);
  r = Ctl(Submit(2, "--export-hf " + p));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("export_hf_dir: "), std::string::npos) << r.err;
  ExpectIntact(p);
}

// The probe: --save-dir set to the daemons' --state-dir deleted the job journal.
TEST_F(SaveSafetyTest, TheDaemonsStateDirIsNoTargetAndTheJournalStays) {
  const std::string journal = ReadWholeFile(Path("state/jobs.jsonl"));
  CtlResult r = Ctl(Submit(2, "--save-dir " + Path("state")));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("is the daemons' state directory"), std::string::npos) << r.err;
  EXPECT_EQ(ReadWholeFile(Path("state/jobs.jsonl")).substr(0, journal.size()), journal);
}

TEST_F(SaveSafetyTest, ACheckpointOfAJobIntoOtherFilesOrTheStateDirIsRefused) {
  CtlResult submitted = Ctl(Submit(5, "--paused"));
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string job = JobId(submitted);
  ASSERT_EQ(Ctl("step " + job + " -n 1").exit_code, 0);
  const std::string p = UsersDir("q");
  CtlResult r = Ctl("checkpoint " + job + " --dir " + p);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("notes.txt"), std::string::npos) << r.err;
  ExpectIntact(p);
  r = Ctl("checkpoint " + job + " --dir " + Path("state"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("is the daemons' state directory"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(Path("state/jobs.jsonl")));
  r = Ctl("export " + job + " --hf " + std::string(ZEROD_SOURCE_DIR) +
          "/configs/models/tiny-llama");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("is the job's model directory"), std::string::npos) << r.err;
  EXPECT_EQ(Ctl("cancel " + job).exit_code, 0);
}

// A full disk during the final save: the checkpoint already there stays whole, the
// partial files go, and the job stays loaded: saved elsewhere, it resumes.
TEST_F(SaveSafetyTest, AFinalSaveIntoAFullDiskKeepsTheJobLoadedAndSaveableElsewhere) {
  const int64_t one = CheckpointBytes();
  ASSERT_GT(one, 0);
  // Room for one checkpoint, not for its replacement beside it.
  if (!MountTmpfs("full", one * 3 / 2)) GTEST_SKIP() << "cannot mount a tmpfs here (not root?)";
  const std::string ck = Path("full/ck");
  CtlResult first = Ctl(Submit(2, "--save-dir " + ck + " --wait"));
  ASSERT_EQ(first.exit_code, 0) << first.err << daemons_->log();
  ASSERT_EQ(MetaStep(ck), 2);

  CtlResult second = Ctl(Submit(4, "--resume " + ck + " --save-dir " + ck + " --wait"));
  EXPECT_NE(second.exit_code, 0) << second.out;
  const std::string job = JobId(second);
  const json failed = Status(job);
  EXPECT_EQ(failed.value("state", ""), "SAVE_FAILED") << failed.dump();
  const std::string reason = failed.value("reason", "");
  EXPECT_NE(reason.find("saving to " + ck + " failed"), std::string::npos) << reason;
  EXPECT_NE(reason.find("stays loaded: save it elsewhere with `zeroctl checkpoint " + job),
            std::string::npos)
      << reason;
  // The previous checkpoint is whole and the partial files are gone from the full disk.
  EXPECT_EQ(MetaStep(ck), 2);
  EXPECT_FALSE(fs::exists(ck + ".partial"));
  EXPECT_FALSE(fs::exists(ck + ".old"));

  CtlResult saved = Ctl("checkpoint " + job + " --dir " + Path("elsewhere"));
  ASSERT_EQ(saved.exit_code, 0) << saved.err << daemons_->log();
  EXPECT_EQ(MetaStep(Path("elsewhere")), 4);
  EXPECT_NE(Status(job).value("reason", "").find("then saved to " + Path("elsewhere")),
            std::string::npos);
  // The state saved elsewhere is the trained one: it resumes at step 4.
  CtlResult resumed = Ctl(Submit(5, "--resume " + Path("elsewhere") + " --wait"));
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err << daemons_->log();
  EXPECT_EQ(Status(JobId(resumed)).value("steps_done", 0), 5);
}

// Periodic saves into a disk with room for one: the first goes in, the next ones fail
// and are reported with the step, the first stays the newest complete checkpoint, and
// training goes on until three in a row have failed.
TEST_F(SaveSafetyTest, FailedPeriodicSavesAreReportedAndTrainingGoesOnUntilThreeInARow) {
  const int64_t one = CheckpointBytes();
  if (!MountTmpfs("small", one * 3 / 2)) GTEST_SKIP() << "cannot mount a tmpfs here (not root?)";
  const std::string ck = Path("small/ck");
  CtlResult r = Ctl("--json " +
                    Submit(8, "--save-dir " + ck + " --save-every 1 --keep-checkpoints 1 --wait"));
  EXPECT_NE(r.exit_code, 0);
  const std::string job = json::parse(r.out.substr(0, r.out.find('\n'))).value("job_id", "");
  ASSERT_FALSE(job.empty()) << r.out;
  const json ended = Status(job);
  EXPECT_EQ(ended.value("state", ""), "SAVE_FAILED") << ended.dump();
  EXPECT_EQ(ended.value("steps_done", 0), 4) << "saves after steps 2, 3 and 4 failed";
  EXPECT_NE(
      ended.value("reason", "").find("3 periodic saves in a row failed, the last after step 4"),
      std::string::npos)
      << ended.dump();
  EXPECT_EQ(Count(r.out, "\"checkpoint_error\":\"writing "), 4) << r.out;  // 3 steps + the status
  EXPECT_EQ(MetaStep(ck + "/step_00000001"), 1);
  EXPECT_TRUE(
      daemons_->WaitForLog("the newest complete checkpoint is still " + ck + "/step_00000001"))
      << daemons_->log();
  for (const char* partial : {"/step_00000002.partial", "/step_00000003.partial"}) {
    EXPECT_FALSE(fs::exists(ck + partial)) << partial;
  }
  EXPECT_EQ(Ctl("cancel " + job).exit_code, 0) << "releases the held state";
}

}  // namespace
}  // namespace zerod::e2e
