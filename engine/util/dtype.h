// The element types zerod moves between ranks and files, without torch headers, so
// communication, data and config code stay torch-free.
#pragma once

#include <cstddef>

namespace zerod {

enum class DType { kFloat32, kFloat16, kBFloat16, kFloat64, kInt32, kInt64, kUInt8 };

// Bytes per element.
size_t DTypeSize(DType dtype);

// "float32", "float16", "bfloat16", ...
const char* DTypeName(DType dtype);

// True for the 16-bit floating types used as compute precision.
inline bool Is16Bit(DType dtype) { return dtype == DType::kFloat16 || dtype == DType::kBFloat16; }

}  // namespace zerod
