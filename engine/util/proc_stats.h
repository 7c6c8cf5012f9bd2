// Process-level facts: memory figures from /proc (for the memory report), the host's name.
#pragma once

#include <cstdint>
#include <string>

namespace zerod {

// Resident set size of this process in bytes (0 if /proc is unavailable).
int64_t ResidentSetBytes();

// Physical memory of this host (MemTotal in /proc/meminfo), in bytes; 0 if unknown.
int64_t HostMemoryBytes();

// Peak resident set size (VmHWM) in bytes since the process started or since the last
// successful ResetPeakResidentSetBytes(); 0 if /proc is unavailable.
int64_t PeakResidentSetBytes();
// Restarts the peak at the current resident set (Linux clear_refs "5"). False when the
// kernel refuses it.
bool ResetPeakResidentSetBytes();

// This host's name (gethostname), "localhost" when it cannot be read.
std::string HostName();

}  // namespace zerod
