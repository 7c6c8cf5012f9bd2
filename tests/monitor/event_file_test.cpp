// TensorBoard event files: the records are TensorBoard's own bytes, the file is named and
// begun as TensorBoard expects, and each step's scalars read back (through our generated
// messages) with their tags, values and x.
#include "engine/monitor/event_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "engine/monitor/tensorboard_event.pb.h"
#include "engine/monitor/tfrecord.h"

namespace zerod::monitor {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(EventFileTest, RecordsAreTheBytesTensorBoardsWriterProduces) {
  // From tensorboard's event_pb2 / summary_pb2 and RecordWriter, same values.
  EXPECT_EQ(absl::BytesToHexString(FileVersionRecord(1700000000.5)),
            "1800000000000000a37f4b220900002040fc54d9411a0d627261696e2e4576656e743a322b353110");
  EXPECT_EQ(
      absl::BytesToHexString(ScalarsRecord(
          1700000001.25, 16, {{"Train/Samples/lr", 0.001, 16}, {"zerod/grad_norm", 2.5, 16}})),
      "3e00000000000000d9d240e70900005040fc54d94110102a310a170a10547261696e2f53616d706c65"
      "732f6c72156f12833a0a160a0f7a65726f642f677261645f6e6f726d150000204030ab19c4");
}

class EventFileWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("zerod-events-" + std::to_string(::getpid()));
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(EventFileWriterTest, WritesTheVersionThenOneEventPerStepFlushedAsItGoes) {
  auto writer = EventFileWriter::Create((dir_ / "run" / "job").string());
  ASSERT_TRUE(writer.ok()) << writer.status();
  const std::string name = fs::path((*writer)->path()).filename().string();
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  EXPECT_EQ(name.rfind("events.out.tfevents.", 0), 0u) << name;
  EXPECT_NE(name.find(std::string(".") + host + "." + std::to_string(::getpid()) + "."),
            std::string::npos)
      << name;
  EXPECT_EQ(fs::path((*writer)->path()).parent_path(), dir_ / "run" / "job");

  ASSERT_TRUE((*writer)
                  ->Write({{"Train/Samples/train_loss", 5.25, 0},
                           {"Train/Samples/lr", 1e-3, 8},
                           {"zerod/grad_norm", 0.5, 8}},
                          123.5)
                  .ok());
  // Not closed yet: a reader sees the step already.
  auto records = ReadRecords(ReadAll((*writer)->path()));
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->size(), 3u);  // version, the loss at x 0, the rest at x 8
  tensorboard::Event first, loss, rest;
  ASSERT_TRUE(first.ParseFromString((*records)[0]));
  EXPECT_EQ(first.file_version(), "brain.Event:2");
  EXPECT_GT(first.wall_time(), 1.6e9);  // now, in Unix seconds
  ASSERT_TRUE(loss.ParseFromString((*records)[1]));
  EXPECT_EQ(loss.step(), 0);
  EXPECT_EQ(loss.wall_time(), 123.5);
  ASSERT_EQ(loss.summary().value_size(), 1);
  EXPECT_EQ(loss.summary().value(0).tag(), "Train/Samples/train_loss");
  EXPECT_EQ(loss.summary().value(0).simple_value(), 5.25f);
  ASSERT_TRUE(rest.ParseFromString((*records)[2]));
  EXPECT_EQ(rest.step(), 8);
  ASSERT_EQ(rest.summary().value_size(), 2);
  EXPECT_EQ(rest.summary().value(0).tag(), "Train/Samples/lr");
  EXPECT_EQ(rest.summary().value(0).simple_value(), 1e-3f);
  EXPECT_EQ(rest.summary().value(1).tag(), "zerod/grad_norm");
}

TEST_F(EventFileWriterTest, TwoWritersInOneProcessNeverShareAFile) {
  auto a = EventFileWriter::Create(dir_.string());
  auto b = EventFileWriter::Create(dir_.string());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE((*a)->path(), (*b)->path());
}

TEST_F(EventFileWriterTest, ADirectoryThatCannotBeMadeIsAnErrorNamingIt) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "file") << "x";
  auto writer = EventFileWriter::Create((dir_ / "file" / "job").string());
  ASSERT_FALSE(writer.ok());
  EXPECT_NE(writer.status().message().find((dir_ / "file").string()), std::string::npos)
      << writer.status();
}

}  // namespace
}  // namespace zerod::monitor
