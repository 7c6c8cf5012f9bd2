#include "daemon/eval_cmd.h"

#include <cstdio>

#include "nlohmann/json.hpp"

namespace zerod::daemon {

std::string EvalJson(const EvalResult& r) {
  nlohmann::ordered_json j;
  j["loss"] = r.loss;
  j["perplexity"] = r.perplexity;
  j["tokens"] = r.tokens;
  return j.dump();
}

int RunEval(const JobSpec& job_spec, int64_t batches, bool json, comm::Communicator& comm) {
  const EvalSpec spec{job_spec, batches};
  const bool leader = comm.rank() == 0;
  absl::StatusOr<EvalResult> result = zerod::Evaluate(spec, &comm);
  if (!result.ok()) {
    // Every rank returns the same error (Evaluate agrees on it); one of them says it.
    if (leader)
      std::fprintf(stderr, "zerod: error: %s\n", std::string(result.status().message()).c_str());
    return 1;
  }
  if (!leader) return 0;
  if (json) {
    std::printf("%s\n", EvalJson(*result).c_str());
  } else {
    std::printf("eval | loss %.6f | perplexity %.4f | tokens %lld (%lld windows of %lld + 1)\n",
                result->loss, result->perplexity, static_cast<long long>(result->tokens),
                static_cast<long long>(result->windows), static_cast<long long>(spec.seq_len));
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace zerod::daemon
