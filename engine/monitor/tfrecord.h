// TFRecord framing, the container of TensorBoard event files: each record is
//   uint64 length | uint32 masked CRC-32C of those 8 bytes | data | uint32 masked CRC-32C
// of the data, all little-endian. The CRC is masked (rotated and offset) because a CRC
// over data that itself holds CRCs is weak. Torch-free and protobuf-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace zerod::monitor {

// ((crc >> 15) | (crc << 17)) + 0xa282ead8 of the CRC-32C of `data`.
uint32_t MaskedCrc32c(std::string_view data);

// `data` as one framed record.
std::string FrameRecord(std::string_view data);

// The records of a whole file, each checked against both CRCs. A file that ends inside
// a record (a writer still at work, or killed) gives the whole records before it; a CRC
// that does not match is DataLoss naming the record's offset. For tests and tools.
absl::StatusOr<std::vector<std::string>> ReadRecords(std::string_view file);

}  // namespace zerod::monitor
