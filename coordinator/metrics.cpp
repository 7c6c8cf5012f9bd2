#include "coordinator/metrics.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>
#if ZEROD_HAVE_PROMETHEUS
#include <CivetServer.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#endif

#include <exception>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/auth.h"
#include "coordinator/scheduler.h"

namespace zerod::coordinator {
namespace {

// Counts each RPC when its status is sent: "/zerod.v1.Coordinator/SubmitJob" as SubmitJob.
class CountingInterceptor : public grpc::experimental::Interceptor {
 public:
  CountingInterceptor(RpcCounts* counts, std::string method)
      : counts_(counts), method_(std::move(method)) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      counts_->Add(method_, !methods->GetSendStatus().ok());
    }
    methods->Proceed();
  }

 private:
  RpcCounts* const counts_;
  const std::string method_;
};

class CountingFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CountingFactory(RpcCounts* counts) : counts_(counts) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    std::string method = info->method();
    if (const auto slash = method.rfind('/'); slash != std::string::npos) {
      method = method.substr(slash + 1);
    }
    return new CountingInterceptor(counts_, std::move(method));
  }

 private:
  RpcCounts* const counts_;
};

}  // namespace

void RpcCounts::Add(const std::string& method, bool error) {
  absl::MutexLock lock(&mu_);
  Count& c = counts_[method];
  ++c.calls;
  if (error) ++c.errors;
}

std::map<std::string, RpcCounts::Count> RpcCounts::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return counts_;
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> RpcCounts::Interceptor() {
  return std::make_unique<CountingFactory>(this);
}

#if ZEROD_HAVE_PROMETHEUS
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// One family under construction: Add() a sample per label set.
struct Family {
  MetricFamily f;
  Family(const std::string& name, const std::string& help, MetricType type) {
    f.name = name;
    f.help = help;
    f.type = type;
  }
  Family& Add(double value, std::vector<ClientMetric::Label> labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    (f.type == MetricType::Counter ? m.counter.value : m.gauge.value) = value;
    f.metric.push_back(std::move(m));
    return *this;
  }
};

// The active job's last step, one gauge per part of it.
void AddStep(const v1::JobStatus& job, std::vector<MetricFamily>& out) {
  const v1::StepMetrics& m = job.last();
  const std::vector<ClientMetric::Label> id = {{"job", job.job_id()}};
  out.push_back(Family("zerod_job_step", "Steps done by the active job", MetricType::Gauge)
                    .Add(static_cast<double>(job.steps_done()), id)
                    .f);
  out.push_back(
      Family("zerod_job_steps_total", "Steps the active job runs in all", MetricType::Gauge)
          .Add(static_cast<double>(job.steps_total()), id)
          .f);
  out.push_back(Family("zerod_job_loss", "Loss of the active job's last step", MetricType::Gauge)
                    .Add(m.loss(), id)
                    .f);
  if (job.has_last_eval()) {  // fine-tuning's evaluation set, its newest figures
    const v1::StepMetrics& e = job.last_eval();
    out.push_back(Family("zerod_job_eval_loss",
                         "Evaluation loss (sum over the labels / their count) of the newest "
                         "evaluation",
                         MetricType::Gauge)
                      .Add(e.eval_loss(), id)
                      .f);
    out.push_back(
        Family("zerod_job_eval_perplexity", "exp of zerod_job_eval_loss", MetricType::Gauge)
            .Add(e.eval_perplexity(), id)
            .f);
    out.push_back(
        Family("zerod_job_eval_tokens", "Labels the newest evaluation scored", MetricType::Gauge)
            .Add(static_cast<double>(e.eval_tokens()), id)
            .f);
    out.push_back(Family("zerod_job_eval_step", "Step after which the newest evaluation ran",
                         MetricType::Gauge)
                      .Add(static_cast<double>(e.step()), id)
                      .f);
  }
  out.push_back(
      Family("zerod_job_learning_rate", "Learning rate of the last step", MetricType::Gauge)
          .Add(m.lr(), id)
          .f);
  out.push_back(Family("zerod_job_grad_norm", "Gradient norm of the last step (before clipping)",
                       MetricType::Gauge)
                    .Add(m.grad_norm(), id)
                    .f);
  out.push_back(
      Family("zerod_job_tokens_per_second", "Tokens per second of the last step", MetricType::Gauge)
          .Add(m.tokens_per_s(), id)
          .f);
  Family parts("zerod_step_part_seconds",
               "Where the last step's time went (host clock; optimizer_cpu/gpu and the waits "
               "overlap the others)",
               MetricType::Gauge);
  for (const auto& [part, seconds] : std::vector<std::pair<const char*, double>>{
           {"step", m.step_seconds()},
           {"forward", m.forward_seconds()},
           {"backward", m.backward_seconds()},
           {"optimizer", m.optimizer_seconds()},
           {"optimizer_cpu", m.optimizer_cpu_seconds()},
           {"optimizer_gpu", m.optimizer_gpu_seconds()},
           {"transfer_wait", m.transfer_wait_seconds()},
           {"optimizer_wait", m.optimizer_wait_seconds()}}) {
    parts.Add(seconds, {{"job", job.job_id()}, {"part", part}});
  }
  out.push_back(std::move(parts.f));
}

void AddMemory(const v1::GetMemoryStatsResponse& memory, std::vector<MetricFamily>& out) {
  struct Field {
    const char* name;
    const char* help;
    int64_t (v1::RankMemory::*get)() const;
  };
  for (const Field& field : {
           Field{"zerod_rank_gpu_allocated_bytes", "GPU memory allocated by the rank",
                 &v1::RankMemory::gpu_allocated_bytes},
           Field{"zerod_rank_gpu_peak_bytes", "Most GPU memory the rank allocated at once",
                 &v1::RankMemory::gpu_peak_bytes},
           Field{"zerod_rank_pinned_host_bytes", "Page-locked host memory of the rank's pool",
                 &v1::RankMemory::pinned_host_bytes},
           Field{"zerod_rank_host_rss_bytes", "Resident set of the rank's process",
                 &v1::RankMemory::rss_bytes},
       }) {
    Family f(field.name, absl::StrCat(field.help, " (at the last step boundary)"),
             MetricType::Gauge);
    for (const v1::RankMemory& r : memory.ranks()) {
      f.Add(static_cast<double>((r.*field.get)()),
            {{"rank", absl::StrCat(r.rank())}, {"device", r.device()}});
    }
    out.push_back(std::move(f.f));
  }
}

// Every family, built from the scheduler's snapshots at each scrape.
class SchedulerMetrics {
 public:
  SchedulerMetrics(const Scheduler* scheduler, const RpcCounts* rpcs)
      : scheduler_(scheduler), rpcs_(rpcs) {}

  std::vector<MetricFamily> Collect() const {
    std::vector<MetricFamily> out;
    const v1::HealthResponse health = scheduler_->Health();
    out.push_back(
        Family("zerod_queue_length", "Jobs queued behind the active one", MetricType::Gauge)
            .Add(health.queued_jobs())
            .f);
    out.push_back(Family("zerod_stalled", "1 while a step runs far longer than the recent ones",
                         MetricType::Gauge)
                      .Add(health.stalled().empty() ? 0 : 1)
                      .f);
    std::map<std::string, int> by_state;
    for (int s = v1::JobState_MIN; s <= v1::JobState_MAX; ++s) {
      if (v1::JobState_IsValid(s) && s != v1::JOB_STATE_UNSPECIFIED)
        by_state[v1::JobState_Name(static_cast<v1::JobState>(s))] = 0;
    }
    for (const v1::JobStatus& job : scheduler_->List()) {
      ++by_state[v1::JobState_Name(job.state())];
      if (job.job_id() == health.active_job_id() && job.has_last()) AddStep(job, out);
    }
    Family jobs("zerod_jobs", "Jobs by state", MetricType::Gauge);
    for (const auto& [state, n] : by_state) jobs.Add(n, {{"state", state}});
    out.push_back(std::move(jobs.f));
    AddMemory(scheduler_->Memory(), out);
    Family calls("zerod_rpc_calls_total", "Coordinator RPCs answered, by method",
                 MetricType::Counter);
    Family errors("zerod_rpc_errors_total", "Coordinator RPCs answered with an error, by method",
                  MetricType::Counter);
    for (const auto& [method, count] : rpcs_->Snapshot()) {
      calls.Add(static_cast<double>(count.calls), {{"method", method}});
      errors.Add(static_cast<double>(count.errors), {{"method", method}});
    }
    out.push_back(std::move(calls.f));
    out.push_back(std::move(errors.f));
    return out;
  }

 private:
  const Scheduler* const scheduler_;
  const RpcCounts* const rpcs_;
};

// GET /metrics: the page in Prometheus' text format (version 0.0.4).
class MetricsHandler : public CivetHandler {
 public:
  explicit MetricsHandler(SchedulerMetrics metrics) : metrics_(std::move(metrics)) {}
  bool handleGet(CivetServer*, mg_connection* conn) override {
    std::ostringstream page;
    prometheus::TextSerializer().Serialize(page, metrics_.Collect());
    const std::string body = page.str();
    mg_printf(conn,
              "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
              "Content-Length: %zu\r\nConnection: close\r\n\r\n",
              body.size());
    mg_write(conn, body.data(), body.size());
    return true;
  }

 private:
  const SchedulerMetrics metrics_;
};

// `Authorization: Bearer <token>` on every scrape when the service has a token (the check
// the gRPC calls make, auth.h); else 401 with a WWW-Authenticate challenge. prometheus-cpp's
// own Exposer::RegisterAuth (1.0.1, Debian 12) only parses Basic credentials, hence this.
class BearerAuth : public CivetAuthHandler {
 public:
  explicit BearerAuth(std::string token) : token_(std::move(token)) {}
  bool authorize(CivetServer*, mg_connection* conn) override {
    const char* header = mg_get_header(conn, "Authorization");
    const absl::Status s = CheckBearer(token_, header == nullptr ? "" : header);
    if (s.ok()) return true;
    const std::string body = absl::StrCat(
        "401 Unauthorized: this zerod's metrics need `Authorization: Bearer <token>` (the "
        "daemons' --token-file; Prometheus: authorization: {credentials_file: FILE})\n");
    mg_printf(conn,
              "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"zerod\"\r\n"
              "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
              "Connection: close\r\n\r\n%s",
              body.size(), body.c_str());
    return false;
  }

 private:
  const std::string token_;
};

}  // namespace

struct MetricsServer::Impl {
  // Declared before the server: civetweb's threads stop (server destroyed) before the
  // handlers they call go.
  std::unique_ptr<MetricsHandler> handler;
  std::unique_ptr<BearerAuth> auth;  // null without a token
  std::unique_ptr<CivetServer> server;
};

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& listen,
                                                                    const std::string& token,
                                                                    const Scheduler* scheduler,
                                                                    const RpcCounts* rpcs) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-listen ", listen, " is not HOST:PORT (e.g. 127.0.0.1:9400)"));
  }
  std::unique_ptr<MetricsServer> server(new MetricsServer());
  Impl& impl = *(server->impl_ = std::make_unique<Impl>());
  impl.handler = std::make_unique<MetricsHandler>(SchedulerMetrics(scheduler, rpcs));
  if (!token.empty()) impl.auth = std::make_unique<BearerAuth>(token);
  try {
    // civetweb throws when it cannot bind.
    impl.server = std::make_unique<CivetServer>(
        std::vector<std::string>{"listening_ports", listen, "num_threads", "2"});
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("--metrics-listen: cannot listen on ", listen, " (",
                                               e.what(), "): pass a free HOST:PORT"));
  }
  if (impl.auth) impl.server->addAuthHandler("/metrics", impl.auth.get());
  impl.server->addHandler("/metrics", impl.handler.get());
  const std::vector<int> ports = impl.server->getListeningPorts();
  server->address_ = absl::StrCat(listen.substr(0, colon), ":", ports.empty() ? 0 : ports.front());
  return server;
}

#else  // without prometheus-cpp

struct MetricsServer::Impl {};

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& listen,
                                                                    const std::string&,
                                                                    const Scheduler*,
                                                                    const RpcCounts*) {
  return absl::UnimplementedError(absl::StrCat(
      "--metrics-listen ", listen,
      ": this zerod was built without prometheus-cpp (apt-get install prometheus-cpp-dev, "
      "then rebuild)"));
}

#endif  // ZEROD_HAVE_PROMETHEUS

MetricsServer::~MetricsServer() = default;

}  // namespace zerod::coordinator
