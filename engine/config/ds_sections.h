// The parts of ParseDsConfig, one per group of DeepSpeed sections (ds_config.cpp: batch,
// precision and the top level; ds_zero.cpp: zero_optimization; ds_optimizer.cpp:
// optimizer and scheduler; ds_extras.cpp: the sections that do not change training).
// Internal to engine/config.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/config/ds_config.h"
#include "engine/config/json_reader.h"

namespace zerod::config {

// What every section parser shares: the job's values for "auto", and where to say what
// was filled or ignored.
struct ParseContext {
  const JobValues& job;
  DsConfig& out;
  std::vector<std::string> filled;  // "key value" for each "auto" taken from the job

  // The default for `key` of `reader`: `job_value` where the config says "auto" (and that
  // is recorded for the note), else DeepSpeed's `ds_default` for an absent key.
  double AutoOr(const JsonReader& reader, const std::string& key, double job_value,
                double ds_default);
  int64_t AutoOr(const JsonReader& reader, const std::string& key, int64_t job_value,
                 int64_t ds_default);
};

absl::Status ParseZero(JsonReader zero, ParseContext& ctx);
absl::Status ParseOptimizer(JsonReader& root, const nlohmann::json& json, ParseContext& ctx);
absl::Status ParseScheduler(JsonReader& root, ParseContext& ctx);
// The top-level sections that are accepted without changing training (monitors,
// profilers, checkpoint I/O knobs) or refused (features zerod does not implement).
absl::Status ParseExtras(JsonReader& root, ParseContext& ctx);

}  // namespace zerod::config
