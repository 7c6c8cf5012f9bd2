// Note [exceptions]: zerod reports failure as absl::Status values. Exceptions exist in two
// places only, and both end in a Status by the one rule of this file.
//  - Inside autograd. A unit runs as an autograd function (unit_function.h) whose forward
//    and backward cannot return a Status, so the engine throws it (ThrowIfError).
//    Autograd carries the exception out of ZeroEngine::Forward / loss.backward() (from its
//    worker thread as an exception_ptr, so its type survives), and the code that started
//    that pass (a training step's micro-batches, an evaluation pass) is the boundary: it
//    runs the pass inside CatchToStatus and gets the very Status back.
//  - Inside LibTorch, which throws where it fails (a buffer that does not fit, a kernel
//    error). Code that calls torch outside autograd (allocating the plan's buffers, the
//    device optimizer, the host updater's threads) wraps those calls in CatchToStatus;
//    inside autograd torch's exceptions travel to the pass's boundary like ours.
// The rule: a thrown Status keeps its code; torch's out-of-memory error and std::bad_alloc
// become ResourceExhausted; anything else the code the caller names. The message is the
// caller's context, then the original message.
#pragma once

#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace zerod::zero {

// A Status thrown across autograd (Note [exceptions]).
class StatusException : public std::exception {
 public:
  explicit StatusException(absl::Status status);
  const char* what() const noexcept override { return what_.c_str(); }
  const absl::Status& status() const { return status_; }

 private:
  absl::Status status_;
  std::string what_;
};

// Throws `s` as a StatusException when it is not ok. Only for code that runs inside
// autograd (UnitFunction and what it calls).
void ThrowIfError(const absl::Status& s);

// The Status for exception `e` by the rule of Note [exceptions].
absl::Status StatusOfException(std::exception_ptr e, absl::StatusCode otherwise,
                               absl::string_view context);

// Runs f() and returns its Status (f may return void or absl::Status); an exception f
// throws becomes a Status by the rule of Note [exceptions].
template <class F>
absl::Status CatchToStatus(absl::StatusCode otherwise, absl::string_view context, F&& f) {
  try {
    if constexpr (std::is_same_v<std::invoke_result_t<F>, absl::Status>) {
      return std::forward<F>(f)();
    } else {
      std::forward<F>(f)();
      return absl::OkStatus();
    }
  } catch (...) {
    return StatusOfException(std::current_exception(), otherwise, context);
  }
}

}  // namespace zerod::zero
