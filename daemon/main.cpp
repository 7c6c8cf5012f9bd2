// zerod: one process per GPU (or CPU rank), launched by mpirun or srun.
//   zerod [--listen 127.0.0.1:7070]   the service: rank 0 serves the Coordinator over
//                                      gRPC, zeroctl submits and watches jobs
//   zerod --train --model DIR --ds-config FILE --data FILE --steps S   one-shot training,
//                                                                        like DeepSpeed's train.py
//   zerod --eval --model DIR --data FILE --seq-len L [--batches B]       mean next-token loss
// Rank, world size and device come from the launcher; nobody passes them by hand.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "daemon/daemon_file.h"
#include "daemon/device_comm.h"
#include "daemon/eval_cmd.h"
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
#include "engine/config/job_spec.h"
#include "engine/models/model_dir.h"
#include "engine/util/proc_stats.h"

namespace {

struct Flags {
  bool plan = false;
  zerod::PlanSpec plan_spec;
  bool train = false;
  bool eval = false;
  int64_t eval_batches = 0;  // 0: the whole file
  bool prepare_data = false;
  bool bytes = false;
  std::string input, output;
  std::string from_checkpoint;
  zerod::JobSpec spec;
  std::string log_format = "text";
  zerod::daemon::DaemonSettings daemon;  // the daemons' own: --config F.yaml and flags
};

// `zerod --plan`: no MPI, no GPU needed. Exit 0 when the plan fits, 1 when it does not
// (the plan is printed either way) or the input is bad, 2 for missing flags.
int RunPlan(Flags flags) {
  if (flags.spec.model_dir.empty() || flags.spec.ds_config_path.empty()) {
    std::fprintf(stderr, "zerod: error: --plan needs --model and --ds-config\n");
    return 2;
  }
  flags.plan_spec.model_dir = flags.spec.model_dir;
  flags.plan_spec.ds_config_path = flags.spec.ds_config_path;
  flags.plan_spec.seq_len = flags.spec.seq_len;
  flags.plan_spec.activation_checkpointing = flags.spec.activation_checkpointing;
  flags.plan_spec.job_flags = flags.spec;
  auto outcome = zerod::PlanOffline(flags.plan_spec);
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

// A whole number of at least 1, said plainly when it is not (CLI11's PositiveNumber prints
// the range up to the largest double).
const CLI::Validator kAtLeastOne(
    [](std::string& value) -> std::string {
      char* end = nullptr;
      const long long n = std::strtoll(value.c_str(), &end, 10);
      if (end == value.c_str() || *end != '\0')
        return "must be a whole number, got \"" + value + "\"";
      if (n < 1) return "must be at least 1, got " + value;
      return "";
    },
    "N >= 1");

// The flags Hugging Face's Trainer fills a DeepSpeed config's "auto" values from.
void AddAutoValueFlags(CLI::App& app, zerod::JobSpec& spec) {
  app.add_option_function<int64_t>(
         "--micro-batch-size,--per_device_train_batch_size",
         [&spec](const int64_t& v) { spec.micro_batch_size = v; },
         "Sequences per rank per micro-step (fills \"auto\"; Trainer default 8)")
      ->check(kAtLeastOne);
  app.add_option_function<int64_t>(
         "--grad-accum,--gradient_accumulation_steps",
         [&spec](const int64_t& v) { spec.grad_accum = v; },
         "Micro-steps per optimizer step (fills \"auto\"; default 1)")
      ->check(kAtLeastOne);
  app.add_option_function<double>(
         "--lr,--learning_rate", [&spec](const double& v) { spec.lr = v; },
         "Learning rate (fills \"auto\" and a config without an optimizer; default 5e-5)")
      ->check(CLI::NonNegativeNumber);
  app.add_option_function<int64_t>(
         "--warmup-steps,--warmup_steps", [&spec](const int64_t& v) { spec.warmup_steps = v; },
         "Warm-up steps of the schedule (fills \"auto\"; default 0)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--precision", spec.precision,
                 "bf16, fp16 or fp32: fills fp16/bf16 \"enabled\": \"auto\" (default: bf16 on a "
                 "GPU that has it, else fp32)")
      ->check(CLI::IsMember({"bf16", "fp16", "fp32"}));
}

// Errors found before MPI starts (flags, a missing file): daemon/usage_error.h says who
// prints them (rank 0, and the first rank of every other host, which may be the only one
// that has it).
void UsageError(const std::string& message) { zerod::daemon::PrintUsageError(message); }

// `zerod --export-hf [OUT] --from-checkpoint DIR [--output OUT]`: one process, no MPI.
int RunExportFromCheckpoint(const Flags& flags) {
  const std::string& out = flags.output.empty() ? flags.spec.export_hf_dir : flags.output;
  if (out.empty()) {
    UsageError(
        "--from-checkpoint writes a Hugging Face directory: give it as --export-hf DIR "
        "or --output DIR");
    return 2;
  }
  if (flags.train || flags.eval) {
    UsageError(
        "--from-checkpoint exports a saved checkpoint; it does not go with --train or --eval");
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

// The job flags each mode takes: --train needs all three, --eval the model and the data
// (its DeepSpeed config is optional), and the service none (jobs come from zeroctl, so
// flags given here would go unused). False after saying what is wrong.
bool JobFlagsFitTheMode(const Flags& flags) {
  const auto& spec = flags.spec;
  struct JobFlag {
    const char* name;
    const std::string* value;
    bool eval_needs;
  };
  for (const JobFlag& f : {JobFlag{"--model", &spec.model_dir, true},
                           JobFlag{"--ds-config", &spec.ds_config_path, false},
                           JobFlag{"--data", &spec.data_path, true}}) {
    if ((flags.train || (flags.eval && f.eval_needs)) && f.value->empty()) {
      UsageError(std::string(flags.train ? "--train" : "--eval") + " needs " + f.name);
      return false;
    }
    if (!flags.train && !flags.eval && !f.value->empty()) {
      UsageError(std::string(f.name) +
                 " goes with --train (one-shot training); without --train zerod starts the "
                 "service and jobs come from `zeroctl submit`");
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  // Expandable segments keep the caching allocator from fragmenting when gathered
  // parameters and activations of different sizes come and go (the plan's GPU reserve
  // assumes it). A user's own setting wins.
  setenv("PYTORCH_CUDA_ALLOC_CONF", "expandable_segments:True", /*overwrite=*/0);
  CLI::App app{"zerod: ZeRO-3 training daemon with CPU offload"};
  Flags flags;
  auto& spec = flags.spec;
  app.add_flag("--train", flags.train, "One-shot training: train, print each step, exit");
  app.add_flag("--plan", flags.plan,
               "Print where the job's parameters, optimizer state and gradients would live and "
               "the bytes per rank on the GPU and the host; exit 1 if it does not fit. Needs "
               "--model and --ds-config; no GPU, no MPI");
  app.add_option("--world-size", flags.plan_spec.world_size, "With --plan: ranks (one GPU each)")
      ->check(kAtLeastOne);
  app.add_option("--ranks-per-host", flags.plan_spec.ranks_per_host,
                 "With --plan: ranks sharing one host's memory (default: --world-size over "
                 "--hosts; without --hosts, 8 per GPU host, all of a CPU plan's on one)")
      ->check(kAtLeastOne);
  app.add_option("--hosts", flags.plan_spec.hosts,
                 "With --plan: the hosts the world is spread over, as many ranks on each")
      ->check(kAtLeastOne);
  app.add_option("--gpu-memory", flags.plan_spec.gpu_memory,
                 "With --plan: one GPU's memory, e.g. 141GiB, or auto (this machine's GPU; a "
                 "CPU plan when it has none)");
  app.add_option("--host-memory", flags.plan_spec.host_memory,
                 "With --plan: one host's memory, e.g. 128GiB, or auto (this machine's)");
  app.add_option("--model,--model-name", spec.model_dir,
                 "Hugging Face model directory (config.json)");
  app.add_option("--ds-config,--deepspeed_config,--deepspeed-config", spec.ds_config_path,
                 "DeepSpeed JSON config");
  app.add_option("--data", spec.data_path, "Token file (raw little-endian uint16 or uint32)");
  app.add_option("--data-dtype", spec.data_dtype, "Token width in --data: uint16 or uint32")
      ->check(CLI::IsMember({"uint16", "uint32"}));
  app.add_option("--steps", spec.steps, "Optimizer steps")->check(kAtLeastOne);
  app.add_option("--seq-len", spec.seq_len, "Tokens per training sequence")->check(kAtLeastOne);
  app.add_option("--seed", spec.seed, "Seed of the weight init and the data order");
  app.add_option("--init", spec.init,
                 "Weights: auto (the model directory's safetensors; the seed's init when it "
                 "holds no weights at all) or random (the seed's init: train from scratch)")
      ->check(CLI::IsMember({"auto", "random"}))
      ->capture_default_str();
  app.add_flag("--activation-checkpointing,--gradient-checkpointing", spec.activation_checkpointing,
               "Recompute each unit in backward instead of keeping its activations");
  AddAutoValueFlags(app, spec);
  app.add_option(
         "--export-hf", spec.export_hf_dir,
         "After training, write the weights as a Hugging Face directory (config.json + "
         "safetensors); with --from-checkpoint, the directory to write (or give it as --output)")
      ->expected(0, 1);
  app.add_option("--from-checkpoint", flags.from_checkpoint,
                 "With --export-hf: write the model of this checkpoint directory (--save-dir of "
                 "any number of ranks) for transformers, one unit at a time; no MPI, no GPU");
  app.add_option("--save-every", spec.save_every,
                 "With --save-dir: also save every N steps, into SAVE_DIR/step_NNNNNNNN")
      ->check(kAtLeastOne);
  app.add_option("--keep-checkpoints", spec.keep_checkpoints,
                 "With --save-every: how many of those periodic checkpoints to keep (newest)")
      ->check(kAtLeastOne)
      ->capture_default_str();
  app.add_option("--save-dir", spec.save_dir,
                 "After training, save a sharded checkpoint here (resume with --resume)");
  app.add_option("--tensorboard", spec.tensorboard_dir,
                 "With --train: write TensorBoard event files (loss, lr, tokens/s, the step's "
                 "parts, memory) into DIR, as the DeepSpeed config's tensorboard section would");
  app.add_option("--resume", spec.resume_from,
                 "Continue from a checkpoint directory; --steps stays the total");
  app.add_option("--collective-timeout", flags.daemon.collective_timeout,
                 "Seconds any rank waits for the others in a collective before every rank stops "
                 "with a message naming the rank(s) that did not arrive (0: wait forever)")
      ->capture_default_str();
  app.add_option("--log-format", flags.log_format, "Step log: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  // Accepted for DeepSpeed launch lines; zerod reads ranks from the launcher itself.
  bool deepspeed_flag = false;
  int local_rank_flag = -1;
  app.add_flag("--deepspeed", deepspeed_flag, "Accepted and ignored (DeepSpeed launch lines)");
  app.add_option("--local_rank,--local-rank", local_rank_flag,
                 "Accepted and ignored: the local rank comes from the launcher");
  app.add_flag("--prepare-data", flags.prepare_data,
               "Turn --input text into the --output token file");
  app.add_flag("--bytes", flags.bytes,
               "With --prepare-data: byte-level vocabulary (one token per byte)");
  app.add_option("--input", flags.input, "With --prepare-data: the text file");
  app.add_option("--output", flags.output, "With --prepare-data: the token file to write");
  app.add_option("--listen", flags.daemon.server.listen,
                 "Service mode: the coordinator's gRPC address (rank 0), HOST:PORT")
      ->capture_default_str();
  app.add_option("--token-file", flags.daemon.server.token_file,
                 "Service mode: require `authorization: Bearer <first line of FILE>` on every RPC")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-cert", flags.daemon.server.tls_cert, "Service mode: PEM certificate (TLS)")
      ->check(CLI::ExistingFile);
  app.add_option("--state-dir", flags.daemon.server.state_dir,
                 "Service mode: keep the job journal (every job's transitions) in DIR/jobs.jsonl; "
                 "restarted daemons list earlier jobs, those that were running as INTERRUPTED. "
                 "Locked (DIR/zerod.lock): a second daemon set on DIR is refused");
  app.add_option("--metrics-listen", flags.daemon.server.metrics_listen,
                 "Service mode: serve Prometheus metrics on HOST:PORT/metrics (job state, step, "
                 "loss, tokens/s, step parts, per-rank memory, RPC counts); off by default");
  app.add_option("--tls-key", flags.daemon.server.tls_key, "Service mode: PEM private key (TLS)")
      ->check(CLI::ExistingFile);
  app.add_flag("--insecure-listen", flags.daemon.server.insecure_listen,
               "Service mode: serve a --listen or --metrics-listen other hosts can reach without "
               "a --token-file (refused otherwise; the log then says it is insecure)");
  app.add_flag("--eval", flags.eval,
               "Print the mean next-token loss, perplexity and tokens of --model over "
               "non-overlapping windows of --seq-len + 1 tokens from the start of --data");
  app.add_option("--batches", flags.eval_batches,
                 "With --eval: batches to score (default: the whole file). A batch is the "
                 "config's train_batch_size windows with --ds-config (forwards of "
                 "train_micro_batch_size_per_gpu per rank), else one window per rank")
      ->check(kAtLeastOne);
  // --job F.yaml and --config F.yaml first: the flags given beside them then override the
  // files' values.
  std::string job_file, daemon_file;
  app.add_option("--job", job_file,
                 "With --train: a YAML job file (configs/jobs/); flags given beside it win");
  app.add_option("--config", daemon_file,
                 "The daemons' settings as YAML (listen, token_file, tls_cert, tls_key, "
                 "state_dir, metrics_listen, insecure_listen, collective_timeout; "
                 "configs/zerod.yaml); flags given beside it win");
  for (int i = 1; i + 1 < argc; ++i) {
    absl::Status loaded;
    if (std::string(argv[i]) == "--job") {
      auto job = zerod::config::LoadJobFile(argv[i + 1]);
      if (job.ok()) spec = *job;
      loaded = job.status();
    } else if (std::string(argv[i]) == "--config") {
      loaded = zerod::daemon::LoadDaemonFile(argv[i + 1], flags.daemon);
    }
    if (!loaded.ok()) {
      UsageError(std::string(loaded.message()));
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    // Every rank parses the same flags: one of them says what is wrong.
    UsageError(std::string(e.what()) + " (zerod --help lists the flags)");
    return 2;
  }
  // A Hub id (`--model-name meta-llama/Llama-2-7b-hf`) means its local cache snapshot.
  if ((flags.eval || flags.prepare_data || flags.plan) && !spec.model_dir.empty()) {
    auto dir = zerod::models::ResolveModelDir(spec.model_dir);
    if (!dir.ok()) {
      UsageError(std::string(dir.status().message()));
      return 1;
    }
    spec.model_dir = *dir;
  }
  if (flags.prepare_data)
    return zerod::daemon::RunPrepareData({flags.bytes, spec.model_dir, flags.input, flags.output});
  if (flags.plan) return RunPlan(flags);
  if (!flags.from_checkpoint.empty()) return RunExportFromCheckpoint(flags);
  if (!JobFlagsFitTheMode(flags)) return 2;
  // The job is checked as the service checks a submitted one (the same ValidateJobSpec);
  // every rank finds the same, rank 0 says it.
  if (flags.train) {
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
    if (flags.train) {
      zerod::daemon::InstallStopSignals();
      rc = zerod::daemon::RunOneShot(spec, flags.log_format == "json", &comm, launcher);
    } else if (flags.eval) {
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
