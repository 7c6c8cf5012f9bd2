// zerod: one process per GPU (or CPU rank), launched by mpirun or srun.
//   zerod [--listen 127.0.0.1:7070]   the service: rank 0 serves the Coordinator over
//                                      gRPC, zeroctl submits and watches jobs
//   zerod --train --model DIR --ds-config FILE --data FILE --steps S   one-shot training,
//                                                                        like DeepSpeed's train.py
//   zerod --eval --model DIR --data FILE --seq-len L [--batches B]       mean next-token loss
//   zerod --plan, --prepare-data, --export-hf OUT --from-checkpoint DIR  (daemon/modes.h)
// Rank, world size and device come from the launcher; nobody passes them by hand.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <algorithm>
#include <memory>
#include <optional>
#include <string>

#include "CLI/CLI.hpp"
#include "daemon/daemon_file.h"
#include "daemon/device_comm.h"
#include "daemon/eval_cmd.h"
#include "daemon/modes.h"
#include "daemon/one_shot.h"
#include "daemon/prepare_cmd.h"
#include "daemon/service_loop.h"
#include "daemon/stop_signals.h"
#include "daemon/usage_error.h"
#include "engine/api.h"
#include "engine/checkpoint/hf_from_checkpoint.h"
#include "engine/comm/bounded_wait.h"
#include "engine/comm/launch_env.h"
#include "engine/comm/mpi_communicator.h"
#include "engine/config/job_file.h"
#include "engine/config/job_flags.h"
#include "engine/config/job_spec.h"
#include "engine/models/model_dir.h"
#include "engine/util/proc_stats.h"

namespace {

using zerod::daemon::Flags;
using zerod::daemon::Mode;

// `zerod --plan`: no MPI, no GPU needed. Exit 0 when the plan fits, 1 when it does not
// (the plan is printed either way) or the input is bad, 2 for missing flags.
int RunPlan(const Flags& flags) {
  if (flags.spec.model_dir.empty() || flags.spec.ds_config_path.empty()) {
    std::fprintf(stderr, "zerod: error: --plan needs --model and --ds-config\n");
    return 2;
  }
  auto outcome = zerod::PlanOffline(flags.spec, flags.machine);
  if (!outcome.ok()) {
    std::fprintf(stderr, "zerod: error: %s\n", std::string(outcome.status().message()).c_str());
    return 1;
  }
  std::printf("%s\n", (flags.log_format == "json" ? outcome->json : outcome->text).c_str());
  if (!outcome->fits) {
    std::fprintf(stderr, "zerod: error: %s\n", outcome->shortfall.c_str());
    return 1;
  }
  return 0;
}

// Errors found before MPI starts (flags, a missing file): daemon/usage_error.h says who
// prints them (rank 0, and the first rank of every other host, which may be the only one
// that has it).
void UsageError(const std::string& message) { zerod::daemon::PrintUsageError(message); }

// `zerod --export-hf [OUT] --from-checkpoint DIR [--output OUT]`: one process, no MPI.
int RunExportFromCheckpoint(const Flags& flags) {
  const std::string& out = flags.output.empty() ? flags.export_dir : flags.output;
  if (out.empty()) {
    UsageError(
        "--from-checkpoint writes a Hugging Face directory: give it as --export-hf DIR "
        "or --output DIR");
    return 2;
  }
  auto summary = zerod::checkpoint::ExportCheckpointToHf(flags.from_checkpoint, out);
  if (!summary.ok()) {
    std::fprintf(stderr, "zerod: error: %s\n", std::string(summary.status().message()).c_str());
    return 1;
  }
  std::printf(
      "zerod: exported %lld parameters (%s, step %lld, saved by %d ranks) from %s to %s; "
      "peak RSS %.2f GiB\n",
      static_cast<long long>(summary->parameters), summary->dtype.c_str(),
      static_cast<long long>(summary->step), summary->ranks, flags.from_checkpoint.c_str(),
      out.c_str(), static_cast<double>(zerod::PeakResidentSetBytes()) / (1 << 30));
  return 0;
}

// The job flags a mode needs: --train all three, --eval the model and the data (its
// DeepSpeed config is optional). False after saying what is missing.
bool JobFlagsFitTheMode(const Flags& flags) {
  const auto& spec = flags.spec;
  const bool train = flags.mode == Mode::kTrain;
  struct JobFlag {
    const char* name;
    const std::string* value;
    bool eval_needs;
  };
  for (const JobFlag& f : {JobFlag{"--model", &spec.model_dir, true},
                           JobFlag{"--ds-config", &spec.ds_config_path, false},
                           JobFlag{"--data", &spec.data_path, true}}) {
    if ((train || f.eval_needs) && f.value->empty()) {
      UsageError(std::string(train ? "--train" : "--eval") + " needs " + f.name);
      return false;
    }
  }
  return true;
}

// Reads --job F.yaml and --config F.yaml before the flags, so that the flags given beside
// them override the files' values. False after saying what is wrong.
bool LoadFiles(int argc, char** argv, Flags& flags) {
  for (int i = 1; i + 1 < argc; ++i) {
    absl::Status loaded;
    if (std::string(argv[i]) == "--job" && flags.mode == Mode::kTrain) {
      auto job = zerod::config::LoadJobFile(argv[i + 1]);
      if (job.ok()) flags.spec = *job;
      loaded = job.status();
    } else if (std::string(argv[i]) == "--config") {
      loaded = zerod::daemon::LoadDaemonFile(argv[i + 1], flags.daemon);
    }
    if (!loaded.ok()) {
      UsageError(std::string(loaded.message()));
      return false;
    }
  }
  return true;
}

// Parses the command line into `flags`: its mode, then that mode's flags. Returns the exit
// code when the process is done (help printed: 0; a bad flag: 2), nullopt to go on.
std::optional<int> ParseCommandLine(int argc, char** argv, Flags& flags) {
  auto mode = zerod::daemon::ModeOf(argc, argv);
  if (!mode.ok()) {
    UsageError(std::string(mode.status().message()));
    return 2;
  }
  flags.mode = *mode;
  if (!LoadFiles(argc, argv, flags)) return 2;
  const auto app = zerod::daemon::MakeApp(flags.mode, &flags);
  try {
    app->parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {
      // `zerod --help` without a mode: every mode; with one (--train --help): its options.
      const bool chose = flags.mode != Mode::kService ||
                         std::find_if(argv + 1, argv + argc, [](const char* a) {
                           return std::string(a) == "--service";
                         }) != argv + argc;
      if (chose) return app->exit(e);
      std::printf("%s", zerod::daemon::Overview().c_str());
      return 0;
    }
    // Every rank parses the same flags: one of them says what is wrong.
    const std::string what = zerod::daemon::ModeName(flags.mode);
    const std::string message = zerod::config::ParseErrorMessage(
        *app, e, what,
        [&flags](const std::string& flag) { return zerod::daemon::OtherModeOf(flag, flags.mode); });
    UsageError(message + " (zerod --help lists the modes and their flags)");
    return 2;
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  // Expandable segments keep the caching allocator from fragmenting when gathered
  // parameters and activations of different sizes come and go (the plan's GPU reserve
  // assumes it). A user's own setting wins.
  setenv("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True", /*overwrite=*/0);
  Flags flags;
  if (const std::optional<int> done = ParseCommandLine(argc, argv, flags)) return *done;
  auto& spec = flags.spec;
  // A Hub id (`--model-name meta-llama/Llama-2-7b-hf`) means its local cache snapshot.
  if ((flags.mode == Mode::kEval || flags.mode == Mode::kPrepareData ||
       flags.mode == Mode::kPlan) &&
      !spec.model_dir.empty()) {
    auto dir = zerod::models::ResolveModelDir(spec.model_dir);
    if (!dir.ok()) {
      UsageError(std::string(dir.status().message()));
      return 1;
    }
    spec.model_dir = *dir;
  }
  if (flags.mode == Mode::kPrepareData) {
    zerod::daemon::PrepareFlags prepare = flags.prepare;
    prepare.bytes = flags.bytes;
    prepare.model_dir = spec.model_dir;
    prepare.input = flags.input;
    prepare.output = flags.output;
    return zerod::daemon::RunPrepareData(prepare);
  }
  if (flags.mode == Mode::kPlan) return RunPlan(flags);
  if (flags.mode == Mode::kExport) return RunExportFromCheckpoint(flags);
  if ((flags.mode == Mode::kTrain || flags.mode == Mode::kEval) && !JobFlagsFitTheMode(flags))
    return 2;
  // The job is checked as the service checks a submitted one (the same ValidateJobSpec);
  // every rank finds the same, rank 0 says it.
  if (flags.mode == Mode::kTrain) {
    if (auto s = zerod::config::ValidateJobSpec(&spec); !s.ok()) {
      UsageError(std::string(s.message()));
      return 1;
    }
  }

  zerod::comm::SetCollectiveTimeout(flags.daemon.collective_timeout);
  auto mpi = zerod::comm::MpiRuntime::Init(&argc, &argv);
  if (!mpi.ok()) {
    std::fprintf(stderr, "zerod: error: %s\n", std::string(mpi.status().message()).c_str());
    return 1;
  }
  int rc = 1;
  {
    auto world = zerod::comm::MpiCommunicator::CreateWorld();
    if (!world.ok()) {
      std::fprintf(stderr, "zerod: error: %s\n", std::string(world.status().message()).c_str());
      return 1;
    }
    // Every mode runs over the same communicator: NCCL on this rank's GPU, else MPI.
    auto gpu = zerod::daemon::GpuCommunicator(**world);
    if (!gpu.ok()) {  // agreed: every rank has the same error, rank 0 says it
      if ((*world)->rank() == 0)
        std::fprintf(stderr, "zerod: error: %s\n", std::string(gpu.status().message()).c_str());
      if (zerod::comm::CollectiveTimedOut()) zerod::comm::MpiRuntime::Abort(1);
      return 1;
    }
    zerod::comm::Communicator& comm =
        *gpu ? **gpu : static_cast<zerod::comm::Communicator&>(**world);
    const std::string launcher = (*world)->launch_env().launcher;
    if (flags.mode == Mode::kTrain) {
      zerod::daemon::InstallStopSignals();
      rc = zerod::daemon::RunOneShot(spec, flags.log_format == "json", &comm, launcher);
    } else if (flags.mode == Mode::kEval) {
      rc = zerod::daemon::RunEval(spec, flags.eval_batches, flags.log_format == "json", comm);
    } else {
      zerod::daemon::InstallStopSignals();
      rc = zerod::daemon::RunService(flags.daemon.server, &comm, launcher);
    }
    if (zerod::comm::CollectiveTimedOut()) {
      // The message is out; a rank is not answering, so finalizing would wait for it.
      std::fflush(stdout);
      std::fflush(stderr);
      zerod::comm::MpiRuntime::Abort(rc == 0 ? 1 : rc);
    }
  }
  return rc;
}
