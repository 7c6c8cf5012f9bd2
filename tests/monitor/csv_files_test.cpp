// DeepSpeed's csv_monitor layout: one file per tag, named and headed as DeepSpeed names
// and heads them, CRLF rows, values that read back as the same double, appended to.
#include "engine/monitor/csv_files.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace zerod::monitor {
namespace {

namespace fs = std::filesystem;

class CsvFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("zerod-csv-" + std::to_string(::getpid()));
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Read(const std::string& name) const {
    std::ifstream in(dir_ / "job" / name, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  fs::path dir_;
};

TEST(CsvFormatTest, NamesFilesAndValuesAsDeepSpeedDoes) {
  EXPECT_EQ(CsvFileName("Train/Samples/train_loss"), "Train_Samples_train_loss.csv");
  EXPECT_EQ(CsvFileName("zerod/time/forward s"), "zerod_time_forward_s.csv");
  EXPECT_EQ(FormatValue(0.001), "0.001");
  EXPECT_EQ(FormatValue(1e-05), "1e-05");
  EXPECT_EQ(FormatValue(65536.0), "65536");
  const double loss = 5.545177444479562;
  EXPECT_EQ(std::stod(FormatValue(loss)), loss);  // shortest, and exact
}

TEST_F(CsvFilesTest, OneFilePerTagWithAHeaderAndOneRowPerStep) {
  auto files = CsvFiles::Create((dir_ / "job").string());
  ASSERT_TRUE(files.ok()) << files.status();
  ASSERT_TRUE(
      (*files)->Write({{"Train/Samples/train_loss", 5.5, 0}, {"Train/Samples/lr", 1e-3, 8}}).ok());
  ASSERT_TRUE((*files)
                  ->Write({{"Train/Samples/train_loss", 5.25, 8}, {"Train/Samples/lr", 2e-3, 16}})
                  .ok());
  EXPECT_EQ(Read("Train_Samples_train_loss.csv"), "step,train_loss\r\n0,5.5\r\n8,5.25\r\n");
  EXPECT_EQ(Read("Train_Samples_lr.csv"), "step,lr\r\n8,0.001\r\n16,0.002\r\n");
}

TEST_F(CsvFilesTest, AResumedJobAppendsWithoutASecondHeader) {
  {
    auto files = CsvFiles::Create((dir_ / "job").string());
    ASSERT_TRUE(files.ok());
    ASSERT_TRUE((*files)->Write({{"zerod/grad_norm", 1.5, 8}}).ok());
  }
  auto again = CsvFiles::Create((dir_ / "job").string());
  ASSERT_TRUE(again.ok());
  ASSERT_TRUE((*again)->Write({{"zerod/grad_norm", 0.75, 16}}).ok());
  EXPECT_EQ(Read("zerod_grad_norm.csv"), "step,grad_norm\r\n8,1.5\r\n16,0.75\r\n");
}

}  // namespace
}  // namespace zerod::monitor
