#include "engine/monitor/tfrecord.h"

#include <bit>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/util/crc32c.h"

namespace zerod::monitor {
namespace {

static_assert(std::endian::native == std::endian::little,
              "TFRecord fields are little-endian and are copied as they lie in memory");

constexpr size_t kHeader = sizeof(uint64_t) + sizeof(uint32_t);  // length, its CRC
constexpr size_t kFooter = sizeof(uint32_t);                     // the data's CRC

template <typename T>
void Append(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.append(bytes, sizeof(T));
}

template <typename T>
T Load(std::string_view bytes, size_t at) {
  T value;
  std::memcpy(&value, bytes.data() + at, sizeof(T));
  return value;
}

}  // namespace

uint32_t MaskedCrc32c(std::string_view data) {
  const uint32_t crc = Crc32c(0, data.data(), data.size());
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

std::string FrameRecord(std::string_view data) {
  std::string out;
  out.reserve(kHeader + data.size() + kFooter);
  Append<uint64_t>(out, data.size());
  Append<uint32_t>(out, MaskedCrc32c(out));  // over the 8 length bytes just written
  out.append(data);
  Append<uint32_t>(out, MaskedCrc32c(data));
  return out;
}

absl::StatusOr<std::vector<std::string>> ReadRecords(std::string_view file) {
  std::vector<std::string> records;
  size_t at = 0;
  while (file.size() - at >= kHeader) {
    const uint64_t length = Load<uint64_t>(file, at);
    if (Load<uint32_t>(file, at + sizeof(uint64_t)) !=
        MaskedCrc32c(file.substr(at, sizeof(uint64_t)))) {
      return absl::DataLossError(absl::StrCat("record at byte ", at, ": bad length CRC"));
    }
    const size_t rest = file.size() - at - kHeader;
    if (length > rest || rest - length < kFooter) break;  // a partial last record
    const std::string_view data = file.substr(at + kHeader, length);
    if (Load<uint32_t>(file, at + kHeader + length) != MaskedCrc32c(data)) {
      return absl::DataLossError(absl::StrCat("record at byte ", at, ": bad data CRC"));
    }
    records.emplace_back(data);
    at += kHeader + length + kFooter;
  }
  return records;
}

}  // namespace zerod::monitor
