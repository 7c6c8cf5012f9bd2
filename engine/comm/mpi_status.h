// MPI return codes as Status values naming the call, the file and the line (STYLE.md:
// every MPI call goes through a check). Only files that call MPI include this.
#pragma once

#include <mpi.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace zerod::comm {

inline absl::Status MpiStatus(int rc, const char* call, const char* file, int line) {
  if (rc == MPI_SUCCESS) return absl::OkStatus();
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  return absl::InternalError(
      absl::StrCat(call, " failed at ", file, ":", line, ": ", std::string(text, len)));
}

}  // namespace zerod::comm

// The Status of one MPI call.
#define MPI_STATUS(call) ::zerod::comm::MpiStatus((call), #call, __FILE__, __LINE__)
// Returns the Status from the enclosing function when the MPI call fails.
#define MPI_RETURN_IF_ERROR(call)                                    \
  do {                                                               \
    if (auto mpi_s_ = MPI_STATUS(call); !mpi_s_.ok()) return mpi_s_; \
  } while (0)
