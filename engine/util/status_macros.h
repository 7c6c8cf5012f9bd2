// Early-return helpers for absl::Status / absl::StatusOr, the error values that cross
// every module boundary in zerod (STYLE.md). Library code never exits the process.
#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define ZEROD_CONCAT_INNER(a, b) a##b
#define ZEROD_CONCAT(a, b) ZEROD_CONCAT_INNER(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::absl::Status zerod_status_ = (expr);         \
    if (!zerod_status_.ok()) return zerod_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, MakeX());` unwraps a StatusOr or returns its error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ZEROD_ASSIGN_OR_RETURN_IMPL(ZEROD_CONCAT(zerod_statusor_, __LINE__), lhs, expr)
#define ZEROD_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return std::move(tmp).status();    \
  lhs = std::move(tmp).value()
