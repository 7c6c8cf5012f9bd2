// zeroctl's output: tables and lines for people, one JSON object per line for scripts.
#pragma once

#include <google/protobuf/message.h>

#include <cstdint>
#include <string>
#include <vector>

#include "zerod.pb.h"

namespace zerod::client {

// "512 B", "3.4 MiB", "12.0 GiB".
std::string Bytes(int64_t bytes);
// "1:02:03" / "4:05"; "-" when unknown.
std::string Duration(double seconds);
// A message as one line of JSON, proto field names, defaults included.
std::string ToJson(const google::protobuf::Message& message);
// QUEUED, RUNNING, ... as text.
std::string StateName(v1::JobState state);

std::string JobTable(const std::vector<v1::JobStatus>& jobs);
std::string JobDetails(const v1::JobStatus& job);
std::string MemoryTable(const v1::GetMemoryStatsResponse& memory);
// "step 12/100  loss 3.2104  lr 1.00e-03  grad 0.83  12.3k tok/s  0.41 s".
std::string StepLine(const v1::StepMetrics& step, int64_t total);
// "[#######.............]  12/100  loss 3.2104  12.3k tok/s  ETA 0:45" (width 20 bar).
std::string ProgressLine(const v1::StepMetrics& step, int64_t total, double eta_seconds);

}  // namespace zerod::client
