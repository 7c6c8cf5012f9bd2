#include "engine/train/step_profile.h"

#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace zerod::train {
namespace {

namespace prof = torch::autograd::profiler;
using torch::profiler::impl::ActivityType;

std::set<ActivityType> Activities() {
  std::set<ActivityType> a = {ActivityType::CPU};
  if (torch::cuda::is_available()) a.insert(ActivityType::CUDA);
  return a;
}

}  // namespace

std::optional<ProfileRequest> ProfileRequestFromEnv(
    const std::function<const char*(const char*)>& getenv_fn) {
  const char* step = getenv_fn("ZEROD_PROFILE_STEP");
  ProfileRequest r;
  if (step == nullptr || !absl::SimpleAtoi(step, &r.step) || r.step <= 0) return std::nullopt;
  const char* path = getenv_fn("ZEROD_PROFILE_TRACE");
  r.trace_path =
      path != nullptr && *path != '\0' ? path : absl::StrCat("zerod_step_", r.step, ".trace.json");
  return r;
}

void StepProfile::Begin(int64_t step) {
  if (!request_ || request_->step != step) return;
  const prof::ProfilerConfig config(torch::profiler::impl::ProfilerState::KINETO);
  prof::prepareProfiler(config, Activities());
  prof::enableProfiler(config, Activities());
  active_ = true;
}

void StepProfile::End(int64_t step) {
  if (!active_ || request_->step != step) return;
  if (torch::cuda::is_available()) torch::cuda::synchronize();
  std::unique_ptr<prof::ProfilerResult> result = prof::disableProfiler();
  active_ = false;
  result->save(request_->trace_path);
  std::fprintf(stderr, "zerod: step %lld's profile written to %s\n", static_cast<long long>(step),
               request_->trace_path.c_str());
}

}  // namespace zerod::train
