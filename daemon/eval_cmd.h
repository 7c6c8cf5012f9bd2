// `zerod --eval`: the mean next-token loss of a model over a token file (engine/api.h,
// Evaluate), printed once by rank 0 as text or as one JSON object.
#pragma once

#include <cstdint>
#include <string>

#include "engine/api.h"
#include "engine/comm/communicator.h"

namespace zerod::daemon {

// Runs the evaluation the command line describes over `comm` (main's, every rank):
// `spec` carries --model, --ds-config (optional), --data, --data-dtype, --seq-len and
// --seed; `batches` is --batches (0: the whole file). Returns the process exit code:
// 0, or 1 on an error (printed once).
int RunEval(const JobSpec& spec, int64_t batches, bool json, comm::Communicator& comm);

// The result as one JSON object on one line: {"loss": ..., "perplexity": ..., "tokens": ...}.
std::string EvalJson(const EvalResult& r);

}  // namespace zerod::daemon
