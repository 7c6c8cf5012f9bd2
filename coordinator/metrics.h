// The service's Prometheus metrics (`zerod --metrics-listen HOST:PORT`, off by default):
// rank 0 serves http://HOST:PORT/metrics in Prometheus' text format, built at each scrape
// from the scheduler's snapshots (jobs by state, queue length, the active job's step,
// loss, lr, tokens/s and step parts, each rank's GPU and host memory) and from the RPCs
// counted as they end (calls and errors per method). Nothing is computed between scrapes.
// When the service has a token, a scrape must carry `Authorization: Bearer <token>` (the
// same check as the gRPC calls, auth.h; Prometheus: `authorization: {credentials_file: F}`)
// or gets 401. Served by civetweb with prometheus-cpp's text format (Debian's packages);
// protobuf and absl, no torch.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace grpc::experimental {
class ServerInterceptorFactoryInterface;
}

namespace zerod::coordinator {

class Scheduler;

// Calls and errors per RPC method, counted by a gRPC server interceptor. Thread-safe.
class RpcCounts {
 public:
  struct Count {
    int64_t calls = 0;
    int64_t errors = 0;  // returned a status other than OK
  };
  void Add(const std::string& method, bool error);
  std::map<std::string, Count> Snapshot() const;
  // An interceptor factory for grpc::ServerBuilder that counts into this object, which
  // must outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> Interceptor();

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, Count> counts_ ABSL_GUARDED_BY(mu_);  // by method ("SubmitJob")
};

class MetricsServer {
 public:
  // Serves on `listen` (HOST:PORT; port 0 picks a free one); a non-empty `token` is required
  // on every scrape. `scheduler` and `rpcs` must outlive the server. Errors name the address.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen,
                                                              const std::string& token,
                                                              const Scheduler* scheduler,
                                                              const RpcCounts* rpcs);
  ~MetricsServer();
  // HOST:PORT as bound.
  const std::string& address() const { return address_; }

 private:
  MetricsServer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string address_;
};

}  // namespace zerod::coordinator
