#include "engine/offload/finite_check.h"

#include <cstring>

#include "engine/util/check.h"

namespace zerod::offload {
namespace {

// Counts the elements of `words` whose exponent bits (`mask`) are all ones.
template <typename Word>
int64_t CountNonFinite(const Word* words, int64_t n, Word mask) {
  int64_t bad = 0;
#pragma omp parallel for reduction(+ : bad) schedule(static)
  for (int64_t i = 0; i < n; ++i) bad += (words[i] & mask) == mask;
  return bad;
}

}  // namespace

bool AllFinite(const void* data, DType dtype, int64_t n) {
  switch (dtype) {
    case DType::kFloat32:
      return CountNonFinite(static_cast<const uint32_t*>(data), n, uint32_t{0x7F800000}) == 0;
    case DType::kBFloat16:
      return CountNonFinite(static_cast<const uint16_t*>(data), n, uint16_t{0x7F80}) == 0;
    case DType::kFloat16:
      return CountNonFinite(static_cast<const uint16_t*>(data), n, uint16_t{0x7C00}) == 0;
    default:
      CheckFailed("AllFinite of a type that is not a float", __FILE__, __LINE__);
  }
}

}  // namespace zerod::offload
