#include "engine/data/token_dataset.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/util/check.h"

namespace zerod::data {

absl::StatusOr<TokenDType> ParseTokenDType(const std::string& name) {
  if (name == "uint16") return TokenDType::kUInt16;
  if (name == "uint32") return TokenDType::kUInt32;
  return absl::InvalidArgumentError(
      absl::StrCat("--data-dtype is \"", name, "\"; use uint16 or uint32"));
}

absl::StatusOr<std::unique_ptr<TokenDataset>> TokenDataset::Open(const std::string& path,
                                                                 TokenDType dtype,
                                                                 int64_t vocab_size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat("data file ", path,
                                            " cannot be opened: ", std::strerror(errno),
                                            "; pass an existing --data file"));
  }
  struct stat st {};
  ::fstat(fd, &st);
  const size_t bytes = static_cast<size_t>(st.st_size);
  const size_t width = dtype == TokenDType::kUInt16 ? 2 : 4;
  if (bytes == 0 || bytes % width != 0) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat(
        "data file ", path, " has ", bytes, " bytes, not a positive multiple of ", width, " (",
        width == 2 ? "uint16" : "uint32", " tokens); is --data-dtype right?"));
  }
  void* map = ::mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) {
    return absl::InternalError(absl::StrCat("mmap of ", path, " failed: ", std::strerror(errno)));
  }
  std::unique_ptr<TokenDataset> ds(new TokenDataset());
  ds->path_ = path;
  ds->dtype_ = dtype;
  ds->base_ = static_cast<const uint8_t*>(map);
  ds->bytes_ = bytes;
  ds->num_tokens_ = static_cast<int64_t>(bytes / width);

  // One pass to check ids against the model's vocabulary: a mismatch here is a wrong
  // tokenizer or a wrong --data-dtype, and would otherwise crash inside the embedding.
  int64_t max_id = 0, max_at = 0;
  for (int64_t i = 0; i < ds->num_tokens_; ++i) {
    const int64_t t = (*ds)[i];
    if (t > max_id) max_id = t, max_at = i;
  }
  if (max_id >= vocab_size) {
    std::string hint = dtype == TokenDType::kUInt16
                           ? "was it tokenized for another model?"
                           : "was it written as uint16 (then pass --data-dtype uint16)?";
    return absl::InvalidArgumentError(
        absl::StrCat("data file ", path, " holds token id ", max_id, " at token ", max_at,
                     ", but the model's vocab_size is ", vocab_size, "; ", hint));
  }
  return ds;
}

TokenDataset::~TokenDataset() {
  if (base_ != nullptr) ::munmap(const_cast<uint8_t*>(base_), bytes_);
}

int64_t TokenDataset::operator[](int64_t i) const {
  ZEROD_CHECK(i >= 0 && i < size());
  if (dtype_ == TokenDType::kUInt16) {
    uint16_t t;
    std::memcpy(&t, base_ + 2 * i, 2);
    return t;
  }
  uint32_t t;
  std::memcpy(&t, base_ + 4 * i, 4);
  return t;
}

}  // namespace zerod::data
