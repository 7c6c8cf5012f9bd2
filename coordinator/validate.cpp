#include "coordinator/validate.h"

#include "absl/strings/str_cat.h"
#include "engine/config/job_spec.h"
#include "proto/wire.h"

namespace zerod::coordinator {

absl::Status ValidateJobSpec(v1::JobSpec* spec, const std::vector<std::string>& daemon_dirs) {
  JobSpec s = wire::FromProto(*spec);
  if (auto status = config::ValidateJobSpec(&s, daemon_dirs); !status.ok()) return status;
  *spec = wire::ToProto(s);
  return absl::OkStatus();
}

absl::Status ValidateJobId(const std::string& job_id) {
  if (job_id.empty()) return absl::InvalidArgumentError("job_id: is required");
  if (job_id.size() > 64) return absl::InvalidArgumentError("job_id: longer than 64 bytes");
  return absl::OkStatus();
}

absl::Status ValidateStepCount(int64_t steps) {
  if (steps < 1 || steps > kMaxStepJobSteps)
    return absl::InvalidArgumentError(
        absl::StrCat("steps: ", steps, " is not in [1, ", kMaxStepJobSteps, "]"));
  return absl::OkStatus();
}

}  // namespace zerod::coordinator
