// CRC-32C (Castagnoli), the checksum of checkpoint files: SSE4.2's crc32 instruction where
// the CPU has it (several GB/s), a table otherwise; both give the same value. Torch-free.
#pragma once

#include <cstddef>
#include <cstdint>

namespace zerod {

// Extends `crc` (0 to start) over `n` bytes at `data`.
uint32_t Crc32c(uint32_t crc, const void* data, size_t n);

}  // namespace zerod
