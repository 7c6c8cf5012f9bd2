// `zerod --eval`: the mean next-token loss of a model over a token file (engine/api.h,
// Evaluate), printed once by rank 0 as text or as one JSON object. Owns its MPI setup,
// so main only routes the flag here.
#pragma once

#include <cstdint>
#include <string>

#include "engine/api.h"

namespace zerod::daemon {

// Runs the evaluation the command line describes: `spec` carries --model, --ds-config
// (optional), --data, --data-dtype, --seq-len and --seed; `batches` is --batches (0:
// the whole file); `log_format` is "text" or "json". Initialises MPI from argc/argv.
// Returns the process exit code: 0, 1 on an error (printed once), 2 on missing flags.
int RunEvalCommand(const JobSpec& spec, int64_t batches, const std::string& log_format, int* argc,
                   char*** argv);

// The result as one JSON object on one line: {"loss": ..., "perplexity": ..., "tokens": ...}.
std::string EvalJson(const EvalResult& r);

}  // namespace zerod::daemon
