// Checks every request before the scheduler sees it. A job's spec is checked by the one
// ValidateJobSpec of engine/config/job_spec.h (through the wire conversion, proto/wire.h);
// the rest here are the RPCs' own arguments. A refusal is INVALID_ARGUMENT with a message
// that names the field and says what to fix. What only the ranks can judge (the DeepSpeed
// config's arithmetic, the model's config.json) fails the job at START with the reason.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "zerod.pb.h"

namespace zerod::coordinator {

inline constexpr int64_t kMaxStepJobSteps = 1'000'000;

// Validates `spec` (config::ValidateJobSpec) and writes it back complete: every default
// filled in, a Hub id replaced by its snapshot directory. `daemon_dirs`: the daemons' own
// directories (--state-dir), which no job output may replace.
absl::Status ValidateJobSpec(v1::JobSpec* spec, const std::vector<std::string>& daemon_dirs = {});
absl::Status ValidateJobId(const std::string& job_id);
absl::Status ValidateStepCount(int64_t steps);

}  // namespace zerod::coordinator
