// `zerod --config F.yaml`: the daemons take their own settings (token, journal directory)
// from a YAML file, a flag beside it wins (the test's --listen 127.0.0.1:0), and a misspelt
// key stops every rank with one message naming the closest known key.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/e2e/daemons.h"
#include "tests/e2e/run_zerod.h"

namespace zerod::e2e {
namespace {

namespace fs = std::filesystem;

class DaemonFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("zerod-config-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  void Write(const std::string& name, const std::string& text) const {
    std::ofstream(Path(name)) << text;
  }
  fs::path dir_;
};

TEST_F(DaemonFileTest, TheDaemonsTakeTheirTokenAndJournalFromTheFile) {
  Write("token", "from-the-file\n");
  Write("zerod.yaml", "listen: 127.0.0.1:1\ntoken-file: " + Path("token") +
                          "\nstate_dir: " + Path("state") + "\ncollective_timeout: 60\n");
  // --listen 127.0.0.1:0 (Daemons::Start) overrides the file's port.
  auto daemons = Daemons::Start(2, "--config " + Path("zerod.yaml"), Path("daemons.log"));
  ASSERT_NE(daemons, nullptr) << ReadWholeFile(Path("daemons.log"));
  EXPECT_NE(daemons->addr(), "127.0.0.1:1");
  EXPECT_NE(Zeroctl("--addr " + daemons->addr() + " health").exit_code, 0)
      << "the file's token is required";
  const std::string with_token = "--addr " + daemons->addr() + " --token-file " + Path("token");
  EXPECT_EQ(Zeroctl(with_token + " health").exit_code, 0);
  EXPECT_TRUE(fs::exists(Path("state/jobs.jsonl"))) << daemons->log();
  EXPECT_EQ(Zeroctl(with_token + " shutdown").exit_code, 0);
}

TEST_F(DaemonFileTest, AMisspeltKeyIsRefusedNamingTheClosestOne) {
  Write("zerod.yaml", "listen: 127.0.0.1:0\nstate_dri: /tmp\n");
  const Result r = RunZerod("--config " + Path("zerod.yaml"));
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_EQ(Count(r.output, "zerod: error"), 1) << r.output;
  EXPECT_NE(r.output.find("zerod.yaml:2: state_dri is not a daemon setting; did you mean "
                          "\"state_dir\"?"),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace zerod::e2e
