// A token file in nanoGPT's format: raw little-endian token ids, uint16 (default) or
// uint32 (vocabularies over 65535), no header. Memory-mapped read-only, so every rank
// of a host shares one copy in the page cache. Torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace zerod::data {

enum class TokenDType { kUInt16, kUInt32 };

// "uint16" / "uint32"; InvalidArgument naming the flag otherwise.
absl::StatusOr<TokenDType> ParseTokenDType(const std::string& name);

class TokenDataset {
 public:
  // Maps `path`. Errors: NotFound (cannot open), InvalidArgument (empty file, size not a
  // multiple of the token size, or a token id >= vocab_size, which names the offset and
  // suggests --data-dtype when the file looks like the other width).
  static absl::StatusOr<std::unique_ptr<TokenDataset>> Open(const std::string& path,
                                                            TokenDType dtype, int64_t vocab_size);
  ~TokenDataset();
  TokenDataset(const TokenDataset&) = delete;
  TokenDataset& operator=(const TokenDataset&) = delete;

  int64_t size() const { return num_tokens_; }
  // Token at index i, 0 <= i < size() (checked).
  int64_t operator[](int64_t i) const;
  const std::string& path() const { return path_; }

 private:
  TokenDataset() = default;

  std::string path_;
  TokenDType dtype_ = TokenDType::kUInt16;
  const uint8_t* base_ = nullptr;
  size_t bytes_ = 0;
  int64_t num_tokens_ = 0;
};

}  // namespace zerod::data
