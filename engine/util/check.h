// ZEROD_CHECK(cond): a precondition the code relies on, said to the program rather than in
// a "REQUIRES:" comment. Always on (every build, so every test run checks it): each use is
// a compare or two beside work that costs far more. A failed check is a bug in zerod, not
// bad input (bad input gets a Status naming the field): it prints the condition with file
// and line and aborts, as a failed assert would, so it is never mistaken for a result.
#pragma once

namespace zerod {

[[noreturn]] void CheckFailed(const char* condition, const char* file, int line);

}  // namespace zerod

#define ZEROD_CHECK(cond) \
  ((cond) ? static_cast<void>(0) : ::zerod::CheckFailed(#cond, __FILE__, __LINE__))
