// DType <-> torch::ScalarType, read off the torch column of util/dtype.h's table. The
// one place zerod converts between its element types and LibTorch's.
#pragma once

#include <torch/torch.h>

#include "engine/util/dtype.h"

namespace zerod::models {

torch::ScalarType ToTorch(DType dtype);
// A torch type the table does not hold (a complex or 8-bit float type) gives kUInt8.
DType ToDType(torch::ScalarType type);

}  // namespace zerod::models
