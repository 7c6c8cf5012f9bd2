// The monitor as the job uses it: nothing without a section, both sinks fed from one
// Record, errors that name the section, and a sink that fails mid-run closed, not fatal.
#include "engine/monitor/monitor.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace zerod::monitor {
namespace {

namespace fs = std::filesystem;

class MonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("zerod-monitor-" + std::to_string(::getpid()));
    on_.enabled = true;
    on_.output_path = dir_.string();
    on_.job_name = "run1";
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
  config::MonitorConfig on_;
  JobFacts job_{.train_batch_size = 8, .num_parameters = 1000};
};

TEST_F(MonitorTest, NoSectionEnabledMeansNoMonitor) {
  auto m = Monitor::Open({}, {}, job_);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(*m, nullptr);
}

TEST_F(MonitorTest, BothSinksWriteUnderOutputPathSlashJobName) {
  auto m = Monitor::Open(on_, on_, job_);
  ASSERT_TRUE(m.ok()) << m.status();
  StepMetrics step;
  step.step = 1;
  step.loss = 5.5;
  (*m)->Record(step);
  int events = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "run1"))
    events += e.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  EXPECT_EQ(events, 1);
  EXPECT_TRUE(fs::exists(dir_ / "run1" / "Train_Samples_train_loss.csv"));
  EXPECT_TRUE(fs::exists(dir_ / "run1" / "zerod_time_forward_s.csv"));
}

TEST_F(MonitorTest, DeepSpeedsDefaultsPutFilesInDeepSpeedJobName) {
  config::MonitorConfig defaults;
  EXPECT_EQ(defaults.Dir(), "DeepSpeedJobName");
  defaults.output_path = "out/ds_logs/";
  EXPECT_EQ(defaults.Dir(), "out/ds_logs/DeepSpeedJobName");
}

TEST_F(MonitorTest, AnOutputPathThatCannotBeMadeNamesTheSection) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "taken") << "x";
  config::MonitorConfig bad = on_;
  bad.output_path = (dir_ / "taken").string();
  auto m = Monitor::Open({}, bad, job_);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().message().rfind("csv_monitor: ", 0), 0u) << m.status();
}

TEST_F(MonitorTest, ASinkThatFailsMidRunIsClosedAndTrainingGoesOn) {
  auto m = Monitor::Open({}, on_, job_);
  ASSERT_TRUE(m.ok()) << m.status();
  fs::remove_all(dir_ / "run1");
  std::ofstream(dir_ / "run1") << "x";  // the directory is now a file: opens fail
  StepMetrics step;
  step.step = 1;
  testing::internal::CaptureStderr();
  (*m)->Record(step);
  step.step = 2;
  (*m)->Record(step);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("zerod: warning: csv_monitor: cannot open " + (dir_ / "run1").string()),
            std::string::npos)
      << err;
  EXPECT_EQ(err.find("warning", err.find("warning") + 1), std::string::npos)
      << "said once: " << err;
}

}  // namespace
}  // namespace zerod::monitor
