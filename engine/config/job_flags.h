// A job's flags, made from the table of its fields (job_fields.h): `zerod --train`,
// `--eval`, `--plan` and `zeroctl submit` call AddJobFlags, so the two binaries offer the
// same flags with the same help, read their values as the YAML job file does and refuse a
// bad value with the message ValidateJobSpec gives for it.
//
// Flags as users type them: the field's name with underscores (--seq_len for --seq-len, or
// --model_dir), Hugging Face Trainer's and DeepSpeed's launcher's spellings of the same
// thing (--learning_rate, --max_steps, --deepspeed FILE, --bf16) are accepted, hidden from
// --help; Trainer flags that zerod does something else for (--num_train_epochs) are refused
// naming zerod's own; an unknown flag is answered with the closest known one.
// Torch-free (CLI11, header-only).
#pragma once

#include <functional>
#include <string>

#include "CLI/CLI.hpp"
#include "engine/config/job_fields.h"
#include "engine/config/job_spec.h"

namespace zerod::config {

// Adds the flags of the fields offered in `mode` (a JobMode bit) to `app`, writing into
// `*spec` (which must outlive the parse). A value that is not of the field's type or fails
// its check throws CLI::ValidationError from app.parse(), with CheckField's message.
void AddJobFlags(CLI::App& app, JobMode mode, JobSpec* spec);

// The message for a parse error of `app`: for unexpected arguments, each with the closest
// flag `app` (or one of its subcommands) knows ("--lerning-rate is not a flag of zerod
// --train; did you mean --learning_rate?"); `what` names the command ("zerod --train").
// Other errors: their own message. `elsewhere`, when given, may say instead where a flag
// does belong (" (it goes with zerod --eval)"); "" lets the closest flag be suggested.
std::string ParseErrorMessage(
    const CLI::App& app, const CLI::ParseError& e, const std::string& what,
    const std::function<std::string(const std::string& flag)>& elsewhere = {});

}  // namespace zerod::config
