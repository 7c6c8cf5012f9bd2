#include "engine/zero/status_exception.h"

#include <c10/util/Exception.h>

#include <new>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace zerod::zero {

StatusException::StatusException(absl::Status status)
    : status_(std::move(status)), what_(status_.message()) {}

void ThrowIfError(const absl::Status& s) {
  if (!s.ok()) throw StatusException(s);
}

absl::Status StatusOfException(std::exception_ptr e, absl::StatusCode otherwise,
                               absl::string_view context) {
  auto with_context = [context](absl::StatusCode code, absl::string_view message) {
    return absl::Status(
        code, context.empty() ? std::string(message) : absl::StrCat(context, ": ", message));
  };
  try {
    std::rethrow_exception(std::move(e));
  } catch (const StatusException& thrown) {
    return with_context(thrown.status().code(), thrown.status().message());
  } catch (const c10::OutOfMemoryError& oom) {
    // what() carries torch's C++ backtrace; the message is the part a user reads.
    return with_context(absl::StatusCode::kResourceExhausted, oom.what_without_backtrace());
  } catch (const c10::Error& error) {
    return with_context(otherwise, error.what_without_backtrace());
  } catch (const std::bad_alloc& oom) {
    return with_context(absl::StatusCode::kResourceExhausted, oom.what());
  } catch (const std::exception& other) {
    return with_context(otherwise, other.what());
  } catch (...) {
    return with_context(otherwise, "an exception that is not a std::exception");
  }
}

}  // namespace zerod::zero
