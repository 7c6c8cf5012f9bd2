#include "engine/data/prepare.h"

#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"

namespace zerod::data {

absl::StatusOr<int64_t> PrepareByteTokens(const std::string& input, const std::string& output) {
  std::ifstream in(input, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("--input ", input, " cannot be read"));
  std::ofstream out(output, std::ios::binary | std::ios::trunc);
  if (!out)
    return absl::PermissionDeniedError(absl::StrCat("--output ", output, " cannot be written"));
  std::vector<char> bytes(1 << 20);
  std::vector<uint16_t> tokens;
  int64_t total = 0;
  while (in) {
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    const std::streamsize n = in.gcount();
    tokens.resize(static_cast<size_t>(n));
    for (std::streamsize i = 0; i < n; ++i) tokens[i] = static_cast<unsigned char>(bytes[i]);
    // Token files are little-endian; so is every machine zerod builds for (x86-64, arm64).
    out.write(reinterpret_cast<const char*>(tokens.data()), n * 2);
    total += n;
  }
  if (!out) return absl::InternalError(absl::StrCat("writing ", output, " failed"));
  return total;
}

}  // namespace zerod::data
