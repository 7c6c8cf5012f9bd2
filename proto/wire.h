// The one conversion between the engine's plain structs (engine/api.h, job_spec.h) and
// their messages in zerod.proto. Every border that puts a job, a step or a rank's memory on
// the wire (zeroctl, the coordinator, the rank loop) goes through here, so a field added
// to a struct is added to its message and to these functions, nowhere else.
//
// Unset means default: an optional message field that is absent (or an empty string) leaves
// the struct's member initialiser in place; the defaults themselves live only in the structs.
#pragma once

#include <string>

#include "engine/api.h"
#include "zerod.pb.h"

namespace zerod::wire {

v1::JobSpec ToProto(const JobSpec& spec);
JobSpec FromProto(const v1::JobSpec& spec);

v1::StepMetrics ToProto(const StepMetrics& m);
StepMetrics FromProto(const v1::StepMetrics& m);

// One rank's memory; `device` is "cpu" or "cuda:N".
v1::RankMemory ToProto(const MemoryStats& m, int rank, const std::string& device);

}  // namespace zerod::wire
