// Process-level memory figures from /proc, for the memory report.
#pragma once

#include <cstdint>

namespace zerod {

// Resident set size of this process in bytes (0 if /proc is unavailable).
int64_t ResidentSetBytes();

}  // namespace zerod
