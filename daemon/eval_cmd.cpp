#include "daemon/eval_cmd.h"

#include <chrono>
#include <cstdio>
#include <memory>
#include <utility>

#include "daemon/device_comm.h"
#include "engine/comm/mpi_communicator.h"
#include "nlohmann/json.hpp"

namespace zerod::daemon {
namespace {

int EvaluateAndPrint(const EvalSpec& spec, bool json, comm::MpiCommunicator& mpi) {
  auto gpu_comm = GpuCommunicator(mpi);
  comm::Communicator& comm = gpu_comm ? *gpu_comm : static_cast<comm::Communicator&>(mpi);
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

}  // namespace

std::string EvalJson(const EvalResult& r) {
  nlohmann::ordered_json j;
  j["loss"] = r.loss;
  j["perplexity"] = r.perplexity;
  j["tokens"] = r.tokens;
  return j.dump();
}

int RunEvalCommand(const JobSpec& job_spec, int64_t batches, const std::string& log_format,
                   int* argc, char*** argv) {
  for (const auto& [name, value] :
       {std::pair{"--model", &job_spec.model_dir}, std::pair{"--data", &job_spec.data_path}}) {
    if (value->empty()) {
      std::fprintf(stderr, "zerod: error: --eval needs %s\n", name);
      return 2;
    }
  }
  EvalSpec spec;
  spec.model_dir = job_spec.model_dir;
  spec.ds_config_path = job_spec.ds_config_path;
  spec.data_path = job_spec.data_path;
  spec.data_dtype = job_spec.data_dtype;
  spec.seq_len = job_spec.seq_len;
  spec.seed = job_spec.seed;
  spec.batches = batches;

  auto runtime = comm::MpiRuntime::Init(argc, argv);
  if (!runtime.ok()) {
    std::fprintf(stderr, "zerod: error: %s\n", std::string(runtime.status().message()).c_str());
    return 1;
  }
  auto mpi = comm::MpiCommunicator::CreateWorld();
  if (!mpi.ok()) {
    std::fprintf(stderr, "zerod: error: %s\n", std::string(mpi.status().message()).c_str());
    return 1;
  }
  const int rc = EvaluateAndPrint(spec, log_format == "json", **mpi);
  return rc;
}

}  // namespace zerod::daemon
