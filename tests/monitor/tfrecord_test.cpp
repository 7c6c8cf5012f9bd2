// The TFRecord framing of TensorBoard event files, pinned to values TensorBoard's own
// Python writer produces (tensorboard.summary.writer.record_writer and its masked_crc32c).
#include "engine/monitor/tfrecord.h"

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/escaping.h"
#include "engine/util/crc32c.h"

namespace zerod::monitor {
namespace {

std::string Bytes(const char* hex) { return absl::HexStringToBytes(hex); }

TEST(TfRecordTest, Crc32cAndItsMaskMatchKnownValues) {
  EXPECT_EQ(Crc32c(0, "123456789", 9), 0xe3069283u);  // the CRC-32C check value
  EXPECT_EQ(MaskedCrc32c("123456789"), 0xc78ab0e5u);
  EXPECT_EQ(MaskedCrc32c(""), 0xa282ead8u);  // CRC 0: the mask's offset alone
  EXPECT_EQ(MaskedCrc32c(std::string(8, '\0')), 0x07980329u);
  EXPECT_EQ(MaskedCrc32c("brain.Event:2"), 0x7c0601eeu);
}

TEST(TfRecordTest, FramesDataAsTensorBoardsWriterDoes) {
  // An Event{wall_time: 1700000000.5, file_version: "brain.Event:2"}, serialized.
  const std::string event = Bytes("0900002040fc54d9411a0d627261696e2e4576656e743a32");
  EXPECT_EQ(absl::BytesToHexString(FrameRecord(event)),
            "1800000000000000a37f4b22"  // length 24, masked CRC of the length
            "0900002040fc54d9411a0d627261696e2e4576656e743a32"
            "2b353110");  // masked CRC of the data
}

TEST(TfRecordTest, ReadsBackWhatItFramesAndStopsBeforeAPartialRecord) {
  const std::string file = FrameRecord("first") + FrameRecord("") + FrameRecord("third");
  auto records = ReadRecords(file);
  ASSERT_TRUE(records.ok()) << records.status();
  EXPECT_EQ(*records, (std::vector<std::string>{"first", "", "third"}));
  // A writer still at work: the last record is cut short, the whole ones come back.
  auto partial = ReadRecords(file.substr(0, file.size() - 3));
  ASSERT_TRUE(partial.ok()) << partial.status();
  EXPECT_EQ(partial->size(), 2u);
}

TEST(TfRecordTest, ACorruptedByteIsDataLossNamingTheRecord) {
  std::string file = FrameRecord("first") + FrameRecord("second");
  file[FrameRecord("first").size() + 14] ^= 1;  // inside the second record's data
  auto records = ReadRecords(file);
  ASSERT_FALSE(records.ok());
  EXPECT_EQ(records.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(records.status().message().find("record at byte 21: bad data CRC"), std::string::npos)
      << records.status();
}

}  // namespace
}  // namespace zerod::monitor
