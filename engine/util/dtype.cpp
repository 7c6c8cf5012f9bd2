#include "engine/util/dtype.h"

namespace zerod {

size_t DTypeSize(DType dtype) {
  switch (dtype) {
#define ZEROD_DTYPE_CASE(e, name, bytes, st, mpi, nccl, torch) \
  case DType::e:                                               \
    return bytes;
    ZEROD_DTYPE_TABLE(ZEROD_DTYPE_CASE)
#undef ZEROD_DTYPE_CASE
  }
  return 0;
}

const char* DTypeName(DType dtype) {
  switch (dtype) {
#define ZEROD_DTYPE_CASE(e, name, bytes, st, mpi, nccl, torch) \
  case DType::e:                                               \
    return name;
    ZEROD_DTYPE_TABLE(ZEROD_DTYPE_CASE)
#undef ZEROD_DTYPE_CASE
  }
  return "unknown";
}

}  // namespace zerod
