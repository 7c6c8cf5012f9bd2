// The element types zerod moves between ranks and files, and the one table that says
// what each is called by every library that moves them. Torch-free, so communication,
// data and config code stay torch-free.
#pragma once

#include <cstddef>

namespace zerod {

// The table, one row per type, in enum order. Every conversion reads its column here:
// bytes and names (dtype.cpp), safetensors (models/safetensors.cpp), MPI
// (comm/mpi_communicator.cpp), NCCL (comm/nccl_communicator.cpp) and torch
// (models/torch_dtype.cpp), so a type is added in one place. The MPI, NCCL and torch
// columns are tokens spelled as those libraries spell them; they mean something only in
// the one file that includes that library and expands the table, so this header needs
// none of them.
//
//   X(enumerator, name,      bytes, safetensors, MPI datatype,  NCCL datatype, c10::ScalarType)
// 16-bit floats travel over MPI as raw 2-byte words (MPI cannot reduce them).
#define ZEROD_DTYPE_TABLE(X)                                                \
  X(kFloat32, "float32", 4, "F32", MPI_FLOAT, ncclFloat32, Float)           \
  X(kFloat16, "float16", 2, "F16", MPI_UINT16_T, ncclFloat16, Half)         \
  X(kBFloat16, "bfloat16", 2, "BF16", MPI_UINT16_T, ncclBfloat16, BFloat16) \
  X(kFloat64, "float64", 8, "F64", MPI_DOUBLE, ncclFloat64, Double)         \
  X(kInt32, "int32", 4, "I32", MPI_INT32_T, ncclInt32, Int)                 \
  X(kInt64, "int64", 8, "I64", MPI_INT64_T, ncclInt64, Long)                \
  X(kUInt8, "uint8", 1, "U8", MPI_UINT8_T, ncclUint8, Byte)

#define ZEROD_DTYPE_ENUMERATOR(e, name, bytes, st, mpi, nccl, torch) e,
enum class DType { ZEROD_DTYPE_TABLE(ZEROD_DTYPE_ENUMERATOR) };
#undef ZEROD_DTYPE_ENUMERATOR

// Every DType, in table order (for lookups by another column's value).
#define ZEROD_DTYPE_VALUE(e, name, bytes, st, mpi, nccl, torch) DType::e,
inline constexpr DType kAllDTypes[] = {ZEROD_DTYPE_TABLE(ZEROD_DTYPE_VALUE)};
#undef ZEROD_DTYPE_VALUE

// Bytes per element.
size_t DTypeSize(DType dtype);

// "float32", "float16", "bfloat16", ...
const char* DTypeName(DType dtype);

// True for the 16-bit floating types used as compute precision.
inline bool Is16Bit(DType dtype) { return dtype == DType::kFloat16 || dtype == DType::kBFloat16; }

}  // namespace zerod
