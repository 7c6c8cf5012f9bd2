// Small file-system helpers over POSIX calls. zerod avoids std::filesystem in code that
// links LibTorch: the GPU machine's libtorch.so exports std::filesystem symbols of its
// own, and calls resolved to them crashed there (remove_all jumped to address 0).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace zerod {

bool IsDirectory(const std::string& path);
// "a" + "/" + "b" (no doubled slash).
std::string JoinPath(const std::string& a, const std::string& b);
// mkdir -p.
absl::Status MakeDirectories(const std::string& path);
// The whole file's bytes; nullopt when it cannot be opened (callers say why, in their
// own terms).
std::optional<std::string> ReadFileToString(const std::string& path);
// The names in a directory (not "." or ".."), in no particular order.
absl::StatusOr<std::vector<std::string>> ListDirectory(const std::string& path);
// rm -r; a missing path is not an error.
absl::Status RemoveTree(const std::string& path);

}  // namespace zerod
