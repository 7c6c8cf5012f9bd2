// How far apart two keys are, for "did you mean" in config errors. Torch-free.
#pragma once

#include <cstddef>
#include <string>

namespace zerod {

// Edits (insert, delete, substitute, swap of neighbours) from `a` to `b`, ignoring case.
size_t EditDistance(const std::string& a, const std::string& b);

// A near miss: up to one edit in short keys, two in keys of 8 characters or more.
bool NearMiss(const std::string& unknown, const std::string& known);

}  // namespace zerod
