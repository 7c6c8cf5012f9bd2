// Fuzzes the safetensors header parser (engine/models/safetensors.cpp): the input is a
// whole file (8-byte header length, JSON header, data section). What it accepts must be
// safe to hand out, as SafetensorsFile::Data and the loaders assume: dims not negative,
// every tensor inside the data section, holding exactly its shape's bytes (counted
// without overflow), and no two tensors sharing a byte.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "engine/models/safetensors.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view file(reinterpret_cast<const char*>(data), size);
  auto header = zerod::models::ParseSafetensorsHeader(file, "fuzz.safetensors");
  if (!header.ok()) return 0;
  const uint64_t data_bytes = size - header->data_offset;
  const auto& tensors = header->tensors;
  for (const auto& t : tensors) {
    FUZZ_CHECK(t.begin <= t.end && t.end <= data_bytes);
    uint64_t bytes = zerod::DTypeSize(t.dtype);
    for (int64_t d : t.shape) {
      FUZZ_CHECK(d >= 0 && !__builtin_mul_overflow(bytes, static_cast<uint64_t>(d), &bytes));
    }
    FUZZ_CHECK(t.end - t.begin == bytes);
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    for (size_t j = i + 1; j < tensors.size(); ++j) {
      const auto &a = tensors[i], &b = tensors[j];
      const bool share = a.begin < a.end && b.begin < b.end && a.begin < b.end && b.begin < a.end;
      FUZZ_CHECK(!share);
    }
  }
  return 0;
}
