#include "engine/util/check.h"

#include <cstdio>
#include <cstdlib>

namespace zerod {

void CheckFailed(const char* condition, const char* file, int line) {
  std::fprintf(stderr, "zerod: internal error: %s:%d: check failed: %s\n", file, line, condition);
  std::fflush(stderr);
  std::abort();
}

}  // namespace zerod
