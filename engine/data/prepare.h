// Turning text into a token file. For now the byte-level vocabulary only: one token per
// byte (vocab_size 256), which needs no tokenizer file; tokenizer.json support comes
// with the Hugging Face issue. Torch-free.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace zerod::data {

// Writes every byte of `input` as one little-endian uint16 token to `output`.
// Returns the token count. NotFound / PermissionDenied name the file that failed.
absl::StatusOr<int64_t> PrepareByteTokens(const std::string& input, const std::string& output);

}  // namespace zerod::data
