#include "coordinator/service.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/auth.h"
#include "coordinator/validate.h"
#include "engine/config/job_spec.h"
#include "engine/util/files.h"
#include "proto/wire.h"

namespace zerod::coordinator {
namespace {

// absl and gRPC number their canonical codes the same way.
grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

std::string Authorization(const grpc::ServerContext* ctx) {
  const auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  return it == md.end() ? "" : std::string(it->second.data(), it->second.size());
}

class CoordinatorService final : public v1::Coordinator::Service {
 public:
  CoordinatorService(Scheduler* scheduler, std::string token, std::string state_dir)
      : scheduler_(scheduler), token_(std::move(token)) {
    if (!state_dir.empty()) daemon_dirs_.push_back(std::move(state_dir));
  }

  grpc::Status SubmitJob(grpc::ServerContext* ctx, const v1::SubmitJobRequest* req,
                         v1::SubmitJobResponse* resp) override {
    if (auto s = Auth(ctx); !s.ok()) return s;
    v1::JobSpec spec = req->spec();
    if (auto s = ValidateJobSpec(&spec, daemon_dirs_); !s.ok()) return ToGrpc(s);
    auto id = scheduler_->Submit(spec);
    if (!id.ok()) return ToGrpc(id.status());
    resp->set_job_id(*id);
    return grpc::Status::OK;
  }

  grpc::Status StepJob(grpc::ServerContext* ctx, const v1::StepJobRequest* req,
                       v1::StepJobResponse* resp) override {
    if (auto s = Auth(ctx); !s.ok()) return s;
    if (auto s = ValidateJobId(req->job_id()); !s.ok()) return ToGrpc(s);
    if (auto s = ValidateStepCount(req->steps()); !s.ok()) return ToGrpc(s);
    auto r = scheduler_->StepPaused(req->job_id(), req->steps());
    if (!r.ok()) return ToGrpc(r.status());
    *resp = *std::move(r);
    return grpc::Status::OK;
  }

  grpc::Status GetJob(grpc::ServerContext* ctx, const v1::GetJobRequest* req,
                      v1::JobStatus* resp) override {
    if (auto s = Auth(ctx); !s.ok()) return s;
    if (auto s = ValidateJobId(req->job_id()); !s.ok()) return ToGrpc(s);
    auto r = scheduler_->Get(req->job_id());
    if (!r.ok()) return ToGrpc(r.status());
    *resp = *std::move(r);
    return grpc::Status::OK;
  }

  grpc::Status ListJobs(grpc::ServerContext* ctx, const v1::ListJobsRequest*,
                        v1::ListJobsResponse* resp) override {
    if (auto s = Auth(ctx); !s.ok()) return s;
    for (auto& job : scheduler_->List()) *resp->add_jobs() = std::move(job);
    return grpc::Status::OK;
  }

  grpc::Status WatchJob(grpc::ServerContext* ctx, const v1::WatchJobRequest* req,
                        grpc::ServerWriter<v1::JobEvent>* writer) override {
    if (auto s = Auth(ctx); !s.ok()) return s;
    if (auto s = ValidateJobId(req->job_id()); !s.ok()) return ToGrpc(s);
    return ToGrpc(scheduler_->Watch(
        req->job_id(), req->from_start(), [&](const v1::JobEvent& e) { return writer->Write(e); },
        [&] { return ctx->IsCancelled(); }));
  }

  grpc::Status CancelJob(grpc::ServerContext* ctx, const v1::CancelJobRequest* req,
                         v1::JobStatus* resp) override {
    if (auto s = Auth(ctx); !s.ok()) return s;
    if (auto s = ValidateJobId(req->job_id()); !s.ok()) return ToGrpc(s);
    auto r = scheduler_->Cancel(req->job_id());
    if (!r.ok()) return ToGrpc(r.status());
    *resp = *std::move(r);
    return grpc::Status::OK;
  }

  grpc::Status GetMemoryStats(grpc::ServerContext* ctx, const v1::GetMemoryStatsRequest*,
                              v1::GetMemoryStatsResponse* resp) override {
    if (auto s = Auth(ctx); !s.ok()) return s;
    *resp = scheduler_->Memory();
    return grpc::Status::OK;
  }

  grpc::Status SaveCheckpoint(grpc::ServerContext* ctx, const v1::SaveCheckpointRequest* req,
                              v1::SaveCheckpointResponse* resp) override {
    if (auto s = Auth(ctx); !s.ok()) return s;
    if (auto s = ValidateJobId(req->job_id()); !s.ok()) return ToGrpc(s);
    if (auto s = ValidateTarget(req->job_id(), req->dir(), config::ValidateSaveDir); !s.ok())
      return s;
    auto step = scheduler_->Save(req->job_id(), req->dir());
    if (!step.ok()) return ToGrpc(step.status());
    resp->set_dir(req->dir());
    resp->set_step(*step);
    return grpc::Status::OK;
  }

  grpc::Status ExportHf(grpc::ServerContext* ctx, const v1::ExportHfRequest* req,
                        v1::ExportHfResponse* resp) override {
    if (auto s = Auth(ctx); !s.ok()) return s;
    if (auto s = ValidateJobId(req->job_id()); !s.ok()) return ToGrpc(s);
    if (auto s = ValidateTarget(req->job_id(), req->dir(), config::ValidateExportDir); !s.ok())
      return s;
    auto step = scheduler_->Export(req->job_id(), req->dir());
    if (!step.ok()) return ToGrpc(step.status());
    resp->set_dir(req->dir());
    resp->set_step(*step);
    return grpc::Status::OK;
  }

  grpc::Status Health(grpc::ServerContext* ctx, const v1::HealthRequest*,
                      v1::HealthResponse* resp) override {
    if (auto s = Auth(ctx); !s.ok()) return s;
    *resp = scheduler_->Health();
    resp->set_version(ZEROD_VERSION);
    return grpc::Status::OK;
  }

  grpc::Status Shutdown(grpc::ServerContext* ctx, const v1::ShutdownRequest*,
                        v1::ShutdownResponse*) override {
    if (auto s = Auth(ctx); !s.ok()) return s;
    scheduler_->RequestShutdown();
    return grpc::Status::OK;
  }

 private:
  grpc::Status Auth(const grpc::ServerContext* ctx) const {
    return ToGrpc(CheckBearer(token_, Authorization(ctx)));
  }

  // A save or export target of `job_id`: checked against that job's model and data and
  // the daemons' own directories, before the ranks are asked to write anything.
  using TargetCheck = absl::Status (*)(const std::string&, const std::string&, const JobSpec&,
                                       const std::vector<std::string>&);
  grpc::Status ValidateTarget(const std::string& job_id, const std::string& dir,
                              TargetCheck check) const {
    auto job = scheduler_->Get(job_id);
    if (!job.ok()) return ToGrpc(job.status());
    return ToGrpc(check("dir", dir, wire::FromProto(job->spec()), daemon_dirs_));
  }

  Scheduler* const scheduler_;
  const std::string token_;
  std::vector<std::string> daemon_dirs_;  // --state-dir: no job output may replace it
};

absl::StatusOr<std::string> ReadFile(const std::string& flag, const std::string& path) {
  std::optional<std::string> text = ReadFileToString(path);
  if (!text) return absl::NotFoundError(absl::StrCat(flag, " ", path, " cannot be read"));
  return *std::move(text);
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> Credentials(const ServerOptions& o) {
  if (o.tls_cert.empty() != o.tls_key.empty())
    return absl::InvalidArgumentError("--tls-cert and --tls-key go together: give both");
  if (o.tls_cert.empty()) return grpc::InsecureServerCredentials();
  auto cert = ReadFile("--tls-cert", o.tls_cert);
  if (!cert.ok()) return cert.status();
  auto key = ReadFile("--tls-key", o.tls_key);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerOptions& options,
                                                      Scheduler* scheduler) {
  std::string token;
  if (!options.token_file.empty()) {
    auto t = ReadTokenFile(options.token_file);
    if (!t.ok()) return t.status();
    token = *t;
  }
  auto creds = Credentials(options);
  if (!creds.ok()) return creds.status();
  std::unique_ptr<Server> server(new Server());
  server->service_ = std::make_unique<CoordinatorService>(scheduler, token, options.state_dir);
  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default: a second daemon set on the same port would then
  // listen too, and clients' calls would land on either set at random.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> counting;
  counting.push_back(server->rpcs_.Interceptor());
  builder.experimental().SetInterceptorCreators(std::move(counting));
  int port = 0;
  builder.AddListeningPort(options.listen, *creds, &port);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen,
                     ": the address is in use (another zerod?) or not local; pass --listen "
                     "HOST:PORT with a free port"));
  }
  // Port 0 asks the system for a free one; report the one we got.
  const auto colon = options.listen.rfind(':');
  server->address_ = absl::StrCat(options.listen.substr(0, colon), ":", port);
  if (!options.metrics_listen.empty()) {
    auto metrics = MetricsServer::Start(options.metrics_listen, token, scheduler, &server->rpcs_);
    if (!metrics.ok()) return metrics.status();
    server->metrics_ = std::move(metrics).value();
  }
  return server;
}

void Server::Stop() {
  metrics_.reset();  // no scrape reads the scheduler after this
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->Wait();
  server_.reset();
}

Server::~Server() { Stop(); }

}  // namespace zerod::coordinator
