// `zeroctl report JOB --html F`'s page: one self-contained HTML file (inline CSS and SVG,
// no script, no link to anything outside it) that any browser opens offline, e.g. on a
// laptop the file was copied to from a cluster with no way out.
//
// It holds the job's facts (model, state, steps, parameters, device, dtype, ...), plots of
// loss, learning rate, tokens/s and memory over the steps, where the last step's time went,
// the ranks' memory when a snapshot of this job is at hand, and every step's values in a
// table. The data comes in as protos; fetching them is client/report.cpp's job.
#pragma once

#include <string>
#include <vector>

#include "zerod.pb.h"

namespace zerod::client {

struct ReportInput {
  v1::JobStatus job;                   // its facts and state
  std::vector<v1::StepMetrics> steps;  // from the first, in order
  v1::GetMemoryStatsResponse memory;   // per-rank snapshot of this job; no ranks: none
  double generated_unix = 0;           // when the report was made (0: not said)
};

std::string ReportHtml(const ReportInput& input);

}  // namespace zerod::client
