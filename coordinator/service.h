// The Coordinator gRPC service on rank 0. Handlers check the token, validate the
// request and hand it to the Scheduler; they never call MPI or the engine (DESIGN.md:
// one thread per rank talks MPI). Blocking calls (StepJob, SaveCheckpoint, ExportHf)
// wait on the scheduler while the rank loop does the work.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "coordinator/metrics.h"
#include "coordinator/scheduler.h"
#include "zerod.grpc.pb.h"

namespace zerod::coordinator {

struct ServerOptions {
  std::string listen = "127.0.0.1:7070";  // host:port; 0.0.0.0 to accept other hosts
  std::string token_file;                 // empty: no token required
  std::string tls_cert;                   // PEM; with tls_key enables TLS
  std::string tls_key;
  std::string state_dir;       // the job journal's directory (journal.h); empty: none
  std::string metrics_listen;  // HOST:PORT serving Prometheus metrics (metrics.h); empty: off
  // Serve a non-loopback listen or metrics_listen without a token (exposure.h); off: refused.
  bool insecure_listen = false;
};

// A running gRPC server with its service. Stop() before destroying the scheduler.
class Server {
 public:
  // Binds and starts serving; errors name the address or the file that failed.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerOptions& options,
                                                       Scheduler* scheduler);
  ~Server();
  // Ends in-flight calls (after at most a short grace period) and stops listening.
  void Stop();
  const std::string& address() const { return address_; }
  // Where the Prometheus metrics are served (HOST:PORT), "" when they are off.
  std::string metrics_address() const { return metrics_ ? metrics_->address() : ""; }

 private:
  Server() = default;
  RpcCounts rpcs_;                          // counted by every call, served by metrics_
  std::unique_ptr<MetricsServer> metrics_;  // null without --metrics-listen
  std::unique_ptr<v1::Coordinator::Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

}  // namespace zerod::coordinator
