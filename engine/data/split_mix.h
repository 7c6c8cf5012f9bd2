// SplitMix64: a fixed, platform-independent mix, so that the order of the data (the
// sampler's windows, the packer's rows) never depends on a library's random engine.
#pragma once

#include <cstdint>

namespace zerod::data {

inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

}  // namespace zerod::data
