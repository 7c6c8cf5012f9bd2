// zeroctl: the command line for a running zerod service.
//   zeroctl submit --model DIR --ds-config FILE --data FILE --steps N [--wait]
//   zeroctl watch JOB | status JOB | list | memory | step JOB [-n N] | cancel JOB
//   zeroctl report JOB --html FILE
//   zeroctl checkpoint JOB --dir DIR | export JOB --hf DIR | health | shutdown
// --json prints one JSON object per result line, for scripts.
#include <cstdlib>
#include <string>

#include "CLI/CLI.hpp"
#include "client/commands.h"
#include "engine/config/job_fields.h"
#include "engine/config/job_file.h"
#include "engine/config/job_flags.h"
#include "proto/wire.h"

namespace {

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace zerod::client;
  CLI::App app{"zeroctl: submit, step, watch and inspect zerod training jobs"};
  app.require_subcommand(1);
  app.fallthrough();  // global options (--json, --addr, ...) may follow the subcommand
  ConnectionOptions conn;
  conn.addr = EnvOr("ZEROD_ADDR", conn.addr);
  conn.token_file = EnvOr("ZEROD_TOKEN_FILE", "");
  conn.state_dir = EnvOr("ZEROD_STATE_DIR", "");
  Output out;
  app.add_option("--addr", conn.addr, "Coordinator address (rank 0 of the daemons); $ZEROD_ADDR")
      ->capture_default_str();
  app.add_option("--token-file", conn.token_file,
                 "File with the daemons' bearer token; $ZEROD_TOKEN_FILE");
  app.add_flag("--tls", conn.tls, "Connect with TLS (system roots unless --tls-ca)");
  app.add_option("--state-dir", conn.state_dir,
                 "The daemons' --state-dir: when they cannot be reached, say from their job "
                 "journal whether they crashed mid-job; $ZEROD_STATE_DIR");
  app.add_option("--tls-ca", conn.tls_ca, "PEM root certificate(s) for TLS");
  app.add_flag("--json", out.json, "One JSON object per result line");

  // The job, as zerod --train takes it (engine/config/job_spec.h): `submit --job F.yaml`
  // (engine/config/job_file.h) first, then the flags given beside it override the file's
  // values; model, config and data may come from the file. The defaults are JobSpec's.
  zerod::JobSpec spec;
  bool wait = false;
  std::string job_file;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::string(argv[i]) != "--job") continue;
    auto loaded = zerod::config::LoadJobFile(argv[i + 1]);
    if (!loaded.ok()) {
      std::fprintf(stderr, "zeroctl: error: %s\n", std::string(loaded.status().message()).c_str());
      return 2;
    }
    spec = *loaded;
    job_file = argv[i + 1];
  }
  const bool from_file = !job_file.empty();
  auto* submit = app.add_subcommand("submit", "Queue a training job; prints its id");
  submit->add_option("--job", job_file, "A YAML job file; flags given beside it win");
  // The job's flags, as zerod --train takes them (engine/config/job_flags.h).
  zerod::config::AddJobFlags(*submit, zerod::config::kSubmitMode, &spec);
  submit->add_flag("--wait", wait, "Follow the job to its end; exit 1 unless it SUCCEEDED");

  std::string job_id, dir;
  bool from_start = true;
  int64_t n = 1;
  auto* step = app.add_subcommand("step", "Run more steps of a paused job");
  step->add_option("job", job_id)->required();
  step->add_option("-n,--steps", n, "How many")->capture_default_str();
  auto* status = app.add_subcommand("status", "One job in detail");
  status->add_option("job", job_id)->required();
  auto* list = app.add_subcommand("list", "All jobs");
  auto* watch = app.add_subcommand("watch", "Follow a job: progress, loss, tokens/s, ETA");
  watch->add_option("job", job_id)->required();
  watch->add_flag("!--new-only", from_start, "Skip the steps already done");
  std::string html;
  auto* report = app.add_subcommand(
      "report", "Write one self-contained HTML page: plots of loss, lr, tokens/s, memory");
  report->add_option("job", job_id)->required();
  report->add_option("--html", html, "The page to write")->required();
  auto* memory = app.add_subcommand("memory", "Per-rank GPU / pinned host / RSS table");
  auto* cancel = app.add_subcommand("cancel", "Cancel a queued or running job");
  cancel->add_option("job", job_id)->required();
  auto* checkpoint = app.add_subcommand("checkpoint", "Save a sharded checkpoint of a job");
  checkpoint->add_option("job", job_id)->required();
  checkpoint->add_option("--dir", dir, "Checkpoint directory")->required();
  auto* exp = app.add_subcommand("export", "Write a job's weights as a Hugging Face directory");
  exp->add_option("job", job_id)->required();
  exp->add_option("--hf,--dir", dir, "Output directory")->required();
  auto* health = app.add_subcommand("health", "Is the coordinator up; ranks, active job");
  auto* shutdown = app.add_subcommand("shutdown", "Cancel jobs and stop every daemon");
  try {
    app.parse(argc, argv);
    // Without a job file these three are needed (checked here, not by CLI11: each has
    // spellings of its own, --model-name, --deepspeed, ...).
    if (*submit && !from_file) {
      for (const char* name : {"model_dir", "ds_config_path", "data_path"}) {
        const auto& field = *zerod::config::FindJobField(name);
        if (zerod::config::FieldText(field, spec).empty()) throw CLI::RequiredError(field.flag);
      }
    }
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::fprintf(stderr, "zeroctl: error: %s\n",
                 zerod::config::ParseErrorMessage(app, e, "zeroctl").c_str());
    return e.get_exit_code();
  }
  // A job file's values are checked as the flags' were, with the same messages.
  if (*submit) {
    if (auto s = zerod::config::CheckJobValues(spec); !s.ok()) {
      std::fprintf(stderr, "zeroctl: error: %s\n", std::string(s.message()).c_str());
      return 2;
    }
  }

  auto connection = Connection::Open(conn);
  if (!connection.ok()) {
    std::fprintf(stderr, "zeroctl: error: %s\n",
                 std::string(connection.status().message()).c_str());
    return 2;
  }
  Connection& c = *connection;
  if (*submit) {
    // Paths as the daemons will see them: absolute, from where zeroctl runs.
    for (const zerod::config::JobField& f : zerod::config::JobFields()) {
      if (f.type != zerod::config::FieldType::kPath) continue;
      std::string& path = spec.*std::get<std::string zerod::JobSpec::*>(f.member);
      // A Hub id (org/name) that is not a local path goes as is.
      path = std::string(f.name) == "model_dir" ? ModelArg(path) : Absolute(path);
    }
    return Submit(c, out, zerod::wire::ToProto(spec), wait);
  }
  if (*step) return Step(c, out, job_id, n);
  if (*status) return Status(c, out, job_id);
  if (*list) return List(c, out);
  if (*watch) return Watch(c, out, job_id, from_start);
  if (*report) return Report(c, out, job_id, html);
  if (*memory) return Memory(c, out);
  if (*cancel) return Cancel(c, out, job_id);
  if (*checkpoint) return Checkpoint(c, out, job_id, dir);
  if (*exp) return Export(c, out, job_id, dir);
  if (*health) return Health(c, out);
  if (*shutdown) return Shutdown(c, out);
  return 2;
}
