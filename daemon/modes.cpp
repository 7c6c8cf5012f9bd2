#include "daemon/modes.h"

#include <cstdlib>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/config/job_flags.h"

namespace zerod::daemon {
namespace {

struct ModeInfo {
  Mode mode;
  const char* flag;  // what selects it (nullptr: the service, no mode flag)
  const char* usage;
  const char* summary;
};

const ModeInfo kModes[] = {
    {Mode::kTrain, "--train", "zerod --train --model DIR --ds-config FILE --data FILE --steps N",
     "One-shot training, like DeepSpeed's train.py: train, print each step, exit"},
    {Mode::kEval, "--eval", "zerod --eval --model DIR --data FILE [--seq-len L] [--batches B]",
     "Print the mean next-token loss, perplexity and tokens of --model over non-overlapping "
     "windows of --seq-len + 1 tokens from the start of --data"},
    {Mode::kPlan, "--plan", "zerod --plan --model DIR --ds-config FILE [--world-size N]",
     "Print where the job's parameters, optimizer state and gradients would live and the bytes "
     "per rank on the GPU and the host; exit 1 if it does not fit. No GPU, no MPI"},
    {Mode::kPrepareData, "--prepare-data",
     "zerod --prepare-data --input FILE --output FILE (--bytes | --model DIR)",
     "Turn --input text into the --output token file, or a fine-tuning dataset (.jsonl, "
     ".jsonl.gz, .json, .csv, .parquet: text, prompt-completion or conversations) into a "
     "sample file (FILE + FILE.samples: the tokens and which are trained)"},
    {Mode::kExport, "--from-checkpoint", "zerod --export-hf OUT --from-checkpoint DIR",
     "Write the model of a checkpoint directory (--save-dir of any number of ranks) for "
     "transformers, one unit at a time; no MPI, no GPU"},
    {Mode::kService, "--service", "zerod [--service] [--listen HOST:PORT] [--config zerod.yaml]",
     "The service (also without a mode flag): rank 0 serves the Coordinator over gRPC, `zeroctl "
     "submit` "
     "queues jobs"},
};

const ModeInfo& InfoOf(Mode mode) {
  for (const ModeInfo& m : kModes) {
    if (m.mode == mode) return m;
  }
  return kModes[std::size(kModes) - 1];
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

void AddLogFormat(CLI::App& app, Flags* f) {
  app.add_option("--log-format", f->log_format, "Step log: text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
}

// What every MPI mode takes: the collective timeout, the daemons' file, DeepSpeed's
// --local_rank.
void AddRankFlags(CLI::App& app, Flags* f) {
  app.add_option("--collective-timeout", f->daemon.collective_timeout,
                 "Seconds any rank waits for the others in a collective before every rank stops "
                 "with a message naming the rank(s) that did not arrive (0: wait forever)")
      ->capture_default_str();
  app.add_option("--config", f->daemon_file,
                 "The daemons' settings as YAML (listen, token_file, tls_cert, tls_key, "
                 "state_dir, metrics_listen, insecure_listen, collective_timeout; "
                 "configs/zerod.yaml); flags given beside it win");
  app.add_option("--local_rank,--local-rank")
      ->description("Accepted and ignored: the local rank comes from the launcher")
      ->group("");
}

void AddServiceFlags(CLI::App& app, Flags* f) {
  auto& s = f->daemon.server;
  app.add_option("--listen", s.listen, "The coordinator's gRPC address (rank 0), HOST:PORT")
      ->capture_default_str();
  app.add_option("--token-file", s.token_file,
                 "Require `authorization: Bearer <first line of FILE>` on every RPC")
      ->check(CLI::ExistingFile);
  app.add_option("--tls-cert", s.tls_cert, "PEM certificate (TLS)")->check(CLI::ExistingFile);
  app.add_option("--tls-key", s.tls_key, "PEM private key (TLS)")->check(CLI::ExistingFile);
  app.add_option("--state-dir", s.state_dir,
                 "Keep the job journal (every job's transitions) in DIR/jobs.jsonl; restarted "
                 "daemons list earlier jobs, those that were running as INTERRUPTED. Locked "
                 "(DIR/zerod.lock): a second daemon set on DIR is refused");
  app.add_option("--metrics-listen", s.metrics_listen,
                 "Serve Prometheus metrics on HOST:PORT/metrics (job state, step, loss, "
                 "tokens/s, step parts, per-rank memory, RPC counts); off by default");
  app.add_flag("--insecure-listen", s.insecure_listen,
               "Serve a --listen or --metrics-listen other hosts can reach without a "
               "--token-file (refused otherwise; the log then says it is insecure)");
}

void AddPlanMachineFlags(CLI::App& app, Flags* f) {
  PlanMachine& m = f->machine;
  app.add_option("--world-size", m.world_size, "Ranks (one GPU each)")
      ->check(kAtLeastOne)
      ->capture_default_str();
  app.add_option("--ranks-per-host", m.ranks_per_host,
                 "Ranks sharing one host's memory (default: --world-size over --hosts; without "
                 "--hosts, 8 per GPU host, all of a CPU plan's on one)")
      ->check(kAtLeastOne);
  app.add_option("--hosts", m.hosts, "The hosts the world is spread over, as many ranks on each")
      ->check(kAtLeastOne);
  app.add_option("--gpu-memory", m.gpu_memory,
                 "One GPU's memory, e.g. 141GiB, or auto (this machine's GPU; a CPU plan when it "
                 "has none)")
      ->capture_default_str();
  app.add_option("--host-memory", m.host_memory,
                 "One host's memory, e.g. 128GiB, or auto (this machine's)")
      ->capture_default_str();
}

// The flags a mode flag stands among in argv ("--train" or "--from-checkpoint=DIR").
bool Names(const std::string& arg, const char* flag) {
  return arg == flag || absl::StartsWith(arg, absl::StrCat(flag, "="));
}

}  // namespace

absl::StatusOr<Mode> ModeOf(int argc, char** argv) {
  std::vector<const ModeInfo*> given;
  for (int i = 1; i < argc; ++i) {
    for (const ModeInfo& m : kModes) {
      if (m.flag != nullptr && Names(argv[i], m.flag)) given.push_back(&m);
    }
  }
  if (given.empty()) return Mode::kService;
  if (given.size() == 1) return given[0]->mode;
  for (const ModeInfo* m : given) {
    if (m->mode == Mode::kExport) {
      return absl::InvalidArgumentError(
          "--from-checkpoint exports a saved checkpoint; it does not go with --train or --eval");
    }
  }
  return absl::InvalidArgumentError(
      absl::StrCat(given[0]->flag, " and ", given[1]->flag, " are two modes of zerod: give one"));
}

std::unique_ptr<CLI::App> MakeApp(Mode mode, Flags* f) {
  const ModeInfo& info = InfoOf(mode);
  auto app = std::make_unique<CLI::App>(absl::StrCat(info.summary, "\n  ", info.usage), "zerod");
  app->get_formatter()->column_width(34);
  switch (mode) {
    case Mode::kTrain:
      app->add_flag("--train")->description("One-shot training (this mode)");
      config::AddJobFlags(*app, config::kTrainMode, &f->spec);
      app->add_option("--job", f->job_file,
                      "A YAML job file (configs/jobs/; keys are the fields' names, seq_len); "
                      "flags given beside it win");
      AddLogFormat(*app, f);
      AddRankFlags(*app, f);
      break;
    case Mode::kEval:
      app->add_flag("--eval")->description("Evaluation (this mode)");
      config::AddJobFlags(*app, config::kEvalMode, &f->spec);
      app->add_option("--batches", f->eval_batches,
                      "Batches to score (default: the whole file). A batch is the config's "
                      "train_batch_size windows with --ds-config (forwards of "
                      "train_micro_batch_size_per_gpu per rank), else one window per rank")
          ->check(kAtLeastOne);
      AddLogFormat(*app, f);
      AddRankFlags(*app, f);
      break;
    case Mode::kPlan:
      app->add_flag("--plan")->description("The placement plan (this mode)");
      config::AddJobFlags(*app, config::kPlanMode, &f->spec);
      AddPlanMachineFlags(*app, f);
      AddLogFormat(*app, f);
      break;
    case Mode::kPrepareData:
      app->add_flag("--prepare-data")->description("Text to tokens (this mode)");
      app->add_flag("--bytes", f->bytes, "Byte-level vocabulary (one token per byte)");
      app->add_option("--model,--model-name", f->spec.model_dir,
                      "A model directory whose tokenizer.json tokenizes the text");
      app->add_option("--input", f->input,
                      "The text file (.txt: one document), or a dataset file: .jsonl, "
                      ".jsonl.gz, .json (a list of objects), .csv (a header row), .parquet")
          ->required();
      app->add_option("--output", f->output, "The token file (or sample file) to write")
          ->required();
      app->add_option("--format", f->prepare.format,
                      "auto: a dataset file becomes a sample file (FILE, which still reads as "
                      "a token stream, and FILE.samples), other files a token stream; samples; "
                      "stream: the token file only (text records of a .jsonl)")
          ->check(CLI::IsMember({"auto", "samples", "stream"}))
          ->capture_default_str();
      app->add_option("--text-field", f->prepare.text_field,
                      "The field of language-modelling records")
          ->capture_default_str();
      app->add_option("--messages-field", f->prepare.messages_field,
                      "The field of conversations (lists of {role, content})")
          ->capture_default_str();
      app->add_option("--prompt-field", f->prepare.prompt_field,
                      "The prompt of prompt-completion records")
          ->capture_default_str();
      app->add_option("--completion-field", f->prepare.completion_field,
                      "The completion of prompt-completion records")
          ->capture_default_str();
      app->add_flag("--train-on-prompt", f->prepare.train_on_prompt,
                    "Train on every token (prompts, user turns, template headers), not only "
                    "completions and assistant messages");
      break;
    case Mode::kExport:
      app->add_option("--from-checkpoint", f->from_checkpoint, "The checkpoint directory")
          ->required();
      app->add_option("--export-hf", f->export_dir,
                      "The Hugging Face directory to write (or give it as --output)")
          ->expected(0, 1);
      app->add_option("--output", f->output, "The Hugging Face directory to write");
      break;
    case Mode::kService:
      app->add_flag("--service")->description("The service (this mode; the default)");
      AddServiceFlags(*app, f);
      AddRankFlags(*app, f);
      break;
  }
  return app;
}

std::string ModeName(Mode mode) {
  return mode == Mode::kService ? "the service (zerod --service)"
                                : absl::StrCat("zerod ", InfoOf(mode).flag);
}

std::string Overview() {
  std::string out =
      "zerod: ZeRO-3 training with CPU offload, one process per GPU (or CPU rank), launched by "
      "mpirun or srun;\nrank, world size and device come from the launcher. Its modes:\n";
  for (const ModeInfo& m : kModes) {
    Flags scratch;
    const auto app = MakeApp(m.mode, &scratch);
    std::vector<std::string> names;
    for (const CLI::Option* opt : app->get_options()) {
      if (opt->get_group().empty() || opt->get_lnames().empty()) continue;
      const std::string name = absl::StrCat("--", opt->get_lnames().front());
      if ((m.flag != nullptr && name == m.flag) || name == "--help") continue;
      names.push_back(name);
    }
    absl::StrAppend(&out, "\n  ", m.usage, "\n");
    // The summary's words, then the flags, each wrapped at 100 columns.
    std::vector<std::string> words = absl::StrSplit(m.summary, ' ');
    words.push_back("\n");
    words.insert(words.end(), names.begin(), names.end());
    std::string line = "      ";
    for (const std::string& n : words) {
      if (n == "\n") {
        absl::StrAppend(&out, line, "\n");
        line = "      ";
        continue;
      }
      if (line.size() + n.size() + 1 > 100) {
        absl::StrAppend(&out, line, "\n");
        line = "      ";
      }
      absl::StrAppend(&line, line.size() > 6 ? " " : "", n);
    }
    if (line.size() > 6) absl::StrAppend(&out, line, "\n");
  }
  absl::StrAppend(&out,
                  "\n`zerod MODE --help` (zerod --train --help, ...) shows one mode's options "
                  "with their help.\n");
  return out;
}

std::string OtherModeOf(const std::string& flag, Mode mode) {
  std::vector<std::string> modes;
  for (const ModeInfo& m : kModes) {
    if (m.mode == mode) continue;
    Flags scratch;
    if (MakeApp(m.mode, &scratch)->get_option_no_throw(flag) != nullptr) {
      modes.push_back(m.mode != Mode::kService ? absl::StrCat("zerod ", m.flag)
                                               : std::string("the service (zerod --service)"));
    }
  }
  if (modes.empty()) return "";
  std::string there = absl::StrCat(" (it goes with ", absl::StrJoin(modes, ", "), ")");
  if (mode == Mode::kService) {
    absl::StrAppend(&there,
                    "; without a mode zerod starts the service and jobs come from `zeroctl "
                    "submit`");
  }
  return there;
}

}  // namespace zerod::daemon
