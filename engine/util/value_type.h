// The type a struct member holds a value of: T itself, or T for std::optional<T> (a field
// that may be unset). The job-field table's members are of both kinds; the YAML reader
// (config/yaml_struct.h) and the wire (proto/wire.cpp) read and write them as T.
#pragma once

#include <optional>
#include <type_traits>

namespace zerod {

template <typename T>
struct ValueType {
  using type = T;
};
template <typename T>
struct ValueType<std::optional<T>> {
  using type = T;
};
template <typename T>
using ValueTypeT = typename ValueType<T>::type;

// True for std::optional<T> members.
template <typename T>
inline constexpr bool kIsOptional = !std::is_same_v<T, ValueTypeT<T>>;

}  // namespace zerod
