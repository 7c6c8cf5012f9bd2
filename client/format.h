// zeroctl's output: tables and lines for people, one JSON object per line for scripts.
#pragma once

#include <google/protobuf/message.h>

#include <cstdint>
#include <string>
#include <vector>

#include "proto/job_state.h"
#include "zerod.pb.h"

namespace zerod::client {

// "512 B", "3.4 MiB", "12.0 GiB".
std::string Bytes(int64_t bytes);
// "1:02:03" / "4:05"; "-" when unknown.
std::string Duration(double seconds);
// A message as one line of JSON, proto field names, defaults included.
std::string ToJson(const google::protobuf::Message& message);
// The same with one more field, `key`, holding `extra` (an addition that leaves the
// message's own fields as they were, so scripts reading them are not disturbed).
std::string ToJson(const google::protobuf::Message& message, const std::string& key,
                   const google::protobuf::Message& extra);
// QUEUED, RUNNING, ... as text.
std::string StateName(v1::JobState state);
// The job will not change again (its event stream ends): proto/job_state.h.
using v1::HasEnded;

std::string JobTable(const std::vector<v1::JobStatus>& jobs);
std::string JobDetails(const v1::JobStatus& job);
std::string MemoryTable(const v1::GetMemoryStatsResponse& memory);
// "step 12/100  loss 3.2104  lr 1.00e-03  grad 0.83  12.3k tok/s  0.41 s".
std::string StepLine(const v1::StepMetrics& step, int64_t total);
// "[#######.............]  12/100  loss 3.2104  12.3k tok/s  ETA 0:45" (width 20 bar).
std::string ProgressLine(const v1::StepMetrics& step, int64_t total, double eta_seconds);
// Where the step's time went (engine/api.h defines each part), two lines:
// "0.41 s: forward 0.10 (24%)  backward 0.20 (49%)  optimizer 0.08 (20%)  other 0.03" and
// "transfers 0.01 s  optimizer 0.02 s" (the waits, which happen inside those parts).
std::vector<std::string> StepPartsLines(const v1::StepMetrics& step);
// One line per rank: "rank 0   cpu     GPU peak 0 B        RSS 512.3 MiB". Past
// `max_ranks` ranks the last line sums up the rest (their largest GPU peak and RSS).
std::vector<std::string> RankMemoryLines(const v1::GetMemoryStatsResponse& memory,
                                         int max_ranks = 8);

}  // namespace zerod::client
