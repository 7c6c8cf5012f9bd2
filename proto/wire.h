// The one conversion between the engine's plain structs (engine/api.h, job_spec.h) and
// their messages in zerod.proto, by name through the messages' reflection: a member goes to
// the message field of the same name, each struct's members listed once (wire.cpp; a job's
// in the table of its fields). Every border that puts a job, a step or a rank's memory on
// the wire (zeroctl, the coordinator, the rank loop) goes through here, so a field added
// to a struct is added to its message and to its list in wire.cpp (a job's field: to the
// table), nowhere else.
//
// A job's spec is converted field by field from the one table of its fields
// (engine/config/job_fields.h), through the message's reflection: a field's table name is its
// message field's name. Unset means default, as the table's `unset` column says per field:
// an absent optional field, or an empty string, leaves JobSpec's member initialiser in
// place; the defaults themselves live only in the structs.
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
