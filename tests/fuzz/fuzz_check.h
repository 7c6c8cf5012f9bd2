// FUZZ_CHECK(cond): an invariant the code under test promises for every input it accepts.
// A failure prints the condition (tests/tools/fuzz.sh shows that line) and traps, so
// libFuzzer stops and saves the input as for any other crash.
#pragma once

#include <cstdio>

#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      __builtin_trap();                                                                   \
    }                                                                                     \
  } while (0)
