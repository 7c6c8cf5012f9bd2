// Bearer-token check for every RPC: with --token-file, a call must carry the metadata
// `authorization: Bearer <token>`; the comparison takes the same time wherever the
// first wrong byte is, so the token cannot be guessed byte by byte from timings.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace zerod::coordinator {

// The first line of a --token-file, surrounding whitespace removed (zerod and zeroctl
// read the file the same way). NotFound when it cannot be read.
absl::StatusOr<std::string> ReadTokenLine(const std::string& path);
// The daemons' token: ReadTokenLine, and an empty one is refused.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// True when `a` and `b` are equal, in time that depends only on their lengths.
bool ConstantTimeEquals(const std::string& a, const std::string& b);

// OK when `token` is empty (no auth configured) or `authorization` is "Bearer <token>",
// the scheme in any case ("bearer", as HTTP allows) and one or more spaces after it. Used
// for the gRPC calls and the metrics page alike.
absl::Status CheckBearer(const std::string& token, const std::string& authorization);

}  // namespace zerod::coordinator
