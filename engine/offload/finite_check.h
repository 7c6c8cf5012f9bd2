// Whether every element of a host array is finite, read from the bits (a float is not
// finite exactly when its exponent field is all ones), so 16-bit arrays need no
// conversion. The speculative host update (zero/host_updater.h, Note [speculative
// update]) asks it of a unit's gradient before updating: a non-finite gradient is never
// applied ahead of the step's decision. Torch-free.
#pragma once

#include <cstdint>

#include "engine/util/dtype.h"

namespace zerod::offload {

// `dtype` is kFloat32, kBFloat16 or kFloat16; n elements at `data`. OpenMP-parallel.
bool AllFinite(const void* data, DType dtype, int64_t n);

}  // namespace zerod::offload
