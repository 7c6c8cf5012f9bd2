// Checks every request before the scheduler sees it: paths exist and are readable, counts
// in range, strings bounded. A refusal is INVALID_ARGUMENT with a message that names the
// field and says what to fix. What only the ranks can judge (the DeepSpeed config's
// arithmetic, the model's config.json) fails the job at START with the reason instead.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "zerod.pb.h"

namespace zerod::coordinator {

inline constexpr int64_t kMaxSteps = 1'000'000'000;
inline constexpr int64_t kMaxStepJobSteps = 1'000'000;
inline constexpr int64_t kMaxSeqLen = 1 << 20;
inline constexpr size_t kMaxPathBytes = 4096;
inline constexpr size_t kMaxInlineConfigBytes = 1 << 20;
inline constexpr size_t kMaxNameBytes = 256;

// Validates `spec` and fills in the defaults (data_dtype, seq_len, seed).
absl::Status ValidateJobSpec(v1::JobSpec* spec);
absl::Status ValidateJobId(const std::string& job_id);
absl::Status ValidateStepCount(int64_t steps);
// A directory to write into: `field` names it in the error.
absl::Status ValidateOutputDir(const std::string& field, const std::string& dir);

}  // namespace zerod::coordinator
