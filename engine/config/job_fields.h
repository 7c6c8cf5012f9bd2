// The one table of a job's fields (JobSpec, job_spec.h). Everything that names a job field
// is made from it: the flags of `zerod --train/--eval/--plan` and `zeroctl submit`
// (job_flags.h), the YAML job file's keys (job_file.h), the conversion to and from
// zerod.v1.JobSpec (proto/wire.cpp) and the value checks of ValidateJobSpec. A field added
// to JobSpec and to this table appears in all of them; tests/config/job_fields_test.cpp
// walks the table through each and fails on a field one of them lacks.
//
// The rule every border keeps: a field's `name` is its zerod.v1.JobSpec field's name and its
// YAML key (and the Python client's keyword); the flag is the name as users type it.
//
// What the table does not hold: the defaults. They are JobSpec's member initialisers, written
// once; the table reads them from a default JobSpec (DefaultText) for help texts. Checks that
// need the filesystem (a path exists, an output directory may be replaced) are
// ValidateJobSpec's: they run where the files are, on the daemons.
// Torch-free, CLI-free: zeroctl, the coordinator and proto/ use it.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "engine/config/job_spec.h"

namespace zerod::config {

// What a field's value is, as flags and YAML spell it.
enum class FieldType {
  kText,  // free text (a label, a config's JSON)
  kPath,  // a file or directory: zeroctl makes it absolute before it goes on the wire
  kInt,   // a whole number (int64_t)
  kUint,  // a whole number >= 0 (uint64_t)
  kReal,  // a number (double)
  kBool,  // a switch: a flag without a value; true or false in YAML
};

// How "unset, take the default" is written on the wire (zerod.v1.JobSpec).
enum class WireUnset {
  kAbsent,  // an `optional` field left out (the default may be any value, 0 included)
  kEmpty,   // the empty string (a text whose default is not empty)
  kAsIs,    // the proto's zero value is the field's own value: an empty path is no path,
            // false is false, save_every 0 is never, steps 0 is refused (not defaulted)
};

// The modes a field is a flag of (a bit set).
enum JobMode : unsigned {
  kTrainMode = 1,   // zerod --train
  kEvalMode = 2,    // zerod --eval
  kPlanMode = 4,    // zerod --plan
  kSubmitMode = 8,  // zeroctl submit
};

// The member of JobSpec a field reads and writes.
using FieldMember =
    std::variant<std::string JobSpec::*, int64_t JobSpec::*, uint64_t JobSpec::*, bool JobSpec::*,
                 std::optional<int64_t> JobSpec::*, std::optional<double> JobSpec::*>;

// A value's check, as data so that every border says the same: numbers in [min, max]
// (max open for reals where `max_open`), texts one of `choices` (the empty text is unset
// and passes) or at most `max_bytes` long.
struct ValueCheck {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool max_open = false;
  std::vector<std::string> choices;
  size_t max_bytes = 0;  // 0: no limit
};

struct JobField {
  const char* name;    // zerod.v1.JobSpec's field and the YAML key: "seq_len"
  FieldMember member;  // &JobSpec::seq_len
  FieldType type;
  const char* unit;        // "tokens", "steps", ... ("" when it has none)
  const char* help;        // one line for --help
  const char* flag;        // "--seq-len" (nullptr: no flag, e.g. the inline config's JSON)
  const char* value_name;  // "N", "DIR", "FILE", ... in --help
  WireUnset unset;
  unsigned modes;  // JobMode bits: where `flag` is offered
  ValueCheck check;
  // Other keys a YAML file may use for it (the shorter ones files have used: "model").
  std::vector<const char*> yaml_aliases = {};
  // Other spellings of the flag, Hugging Face Trainer's and DeepSpeed's launcher's
  // (--learning_rate, --max_steps): the same field, the same value.
  std::vector<const char*> flag_aliases = {};
  // A text field whose flag may come without a value, meaning this one
  // (--activation-checkpointing alone: "on"); nullptr: the flag takes a value.
  const char* bare_value = nullptr;
};

// Every field of JobSpec, in the order --help and the YAML key list show them.
const std::vector<JobField>& JobFields();
// The field named `name` (the proto / YAML name); nullptr when there is none.
const JobField* FindJobField(std::string_view name);

// The field's value in `spec` as text ("" for an unset optional): what a flag or a YAML
// value that sets it would say; the shortest text that reads back to the same value.
std::string FieldText(const JobField& field, const JobSpec& spec);
// The default, FieldText of a default JobSpec.
std::string DefaultText(const JobField& field);
// Whether `spec` leaves an optional field unset (always false for the others).
bool FieldIsUnset(const JobField& field, const JobSpec& spec);

// Sets the field in `spec` from `text` as a flag or a YAML value writes it. For a kBool,
// true/false (yes/no, on/off, 1/0). InvalidArgument "must be a whole number, got \"x\""
// (without the field's name: the caller says where, a flag or a file's line). Does not
// check the value's range: CheckField does.
absl::Status SetFieldFromText(const JobField& field, const std::string& text, JobSpec* spec);
// What a value of this field looks like: "a whole number", "true or false", ...
std::string Expected(const JobField& field);

// The field's value check in `spec`: InvalidArgument "seq_len: 0 is not in [1, 1048576]".
absl::Status CheckField(const JobField& field, const JobSpec& spec);
// Every field's CheckField, then the checks between fields (one DeepSpeed config, not two;
// save_every needs save_dir). ValidateJobSpec runs it; so do the CLIs on the flags they
// parse, so that a bad value is refused with the same message everywhere.
absl::Status CheckJobValues(const JobSpec& spec);

}  // namespace zerod::config
