// One training step under LibTorch's profiler (Kineto: CPU operators and CUDA kernels), for
// finding where a step's time goes on the GPU machine, which has no Nsight Systems. Off
// unless the environment asks for it, so a job never pays for it:
//   ZEROD_PROFILE_STEP=N        profile step N (1-based) on rank 0
//   ZEROD_PROFILE_TRACE=PATH    where the Chrome trace goes (default zerod_step_N.trace.json)
// bench/trace_summary.py reads the trace: GPU busy time, idle gaps, kernels by time.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace zerod::train {

struct ProfileRequest {
  int64_t step = 0;
  std::string trace_path;
};

// The request in the environment (through `getenv`), or none when ZEROD_PROFILE_STEP is
// unset, empty or not a positive integer.
std::optional<ProfileRequest> ProfileRequestFromEnv(
    const std::function<const char*(const char*)>& getenv_fn);

// Profiles the step numbered `step` when the request names it: Begin before the step's
// work, End after it (writes the trace and logs its path to stderr). Both do nothing for
// any other step, or when there is no request.
class StepProfile {
 public:
  explicit StepProfile(std::optional<ProfileRequest> request) : request_(std::move(request)) {}
  void Begin(int64_t step);
  void End(int64_t step);

 private:
  std::optional<ProfileRequest> request_;
  bool active_ = false;
};

}  // namespace zerod::train
