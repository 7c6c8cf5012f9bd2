// zerod's modes and their flags: each mode (--train, --eval, --plan, --prepare-data, the
// export of a checkpoint, the service) has a CLI11 app of its own holding only its flags, so
// `zerod --train --help` lists the train options and a flag of another mode is refused
// naming the mode it goes with. The job's flags come from the table of job fields
// (engine/config/job_flags.h), the same function zeroctl submit calls.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "daemon/daemon_file.h"
#include "daemon/prepare_cmd.h"
#include "engine/api.h"

namespace zerod::daemon {

enum class Mode { kService, kTrain, kEval, kPlan, kPrepareData, kExport };

// Everything the command line sets, whatever the mode.
struct Flags {
  Mode mode = Mode::kService;
  JobSpec spec;              // the job's fields (train, eval, plan)
  PlanMachine machine;       // --plan: the machine planned for
  int64_t eval_batches = 0;  // --eval --batches (0: the whole file)
  bool bytes = false;        // --prepare-data --bytes
  PrepareFlags prepare;      // --prepare-data's --format, field names, --train-on-prompt
  std::string input, output;
  std::string from_checkpoint;  // --export-hf OUT --from-checkpoint DIR
  std::string export_dir;       // its OUT (or --output)
  std::string log_format = "text";
  std::string job_file, daemon_file;  // --job, --config (read before parsing)
  DaemonSettings daemon;              // the daemons' own: --config F.yaml and flags
};

// The mode `argv` asks for: the one mode flag it holds, none for the service.
// InvalidArgument when it holds two.
absl::StatusOr<Mode> ModeOf(int argc, char** argv);

// The app of `mode`, its flags writing into `*flags` (which must outlive it).
std::unique_ptr<CLI::App> MakeApp(Mode mode, Flags* flags);

// How errors name the mode: "zerod --train", "the service (zerod --service)".
std::string ModeName(Mode mode);

// `zerod --help`: every mode, its summary and its flags.
std::string Overview();

// For a flag `mode` does not take: " (it goes with zerod --eval)" when another mode takes it,
// else "".
std::string OtherModeOf(const std::string& flag, Mode mode);

}  // namespace zerod::daemon
