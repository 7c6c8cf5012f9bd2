#include "engine/models/torch_dtype.h"

namespace zerod::models {

torch::ScalarType ToTorch(DType dtype) {
  switch (dtype) {  // the torch column of util/dtype.h's table
#define ZEROD_DTYPE_CASE(e, name, bytes, st, mpi, nccl, scalar) \
  case DType::e:                                                \
    return c10::ScalarType::scalar;
    ZEROD_DTYPE_TABLE(ZEROD_DTYPE_CASE)
#undef ZEROD_DTYPE_CASE
  }
  return torch::kFloat32;
}

DType ToDType(torch::ScalarType type) {
  switch (type) {
#define ZEROD_DTYPE_CASE(e, name, bytes, st, mpi, nccl, scalar) \
  case c10::ScalarType::scalar:                                 \
    return DType::e;
    ZEROD_DTYPE_TABLE(ZEROD_DTYPE_CASE)
#undef ZEROD_DTYPE_CASE
    default:
      return DType::kUInt8;
  }
}

}  // namespace zerod::models
