// How zeroctl reaches the coordinator: the channel (plain or TLS), the bearer token on
// every call, and errors that say which address failed and how to start the daemons.
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "zerod.grpc.pb.h"

namespace zerod::client {

struct ConnectionOptions {
  std::string addr = "127.0.0.1:7070";
  std::string token_file;  // empty: no token sent
  bool tls = false;
  std::string tls_ca;     // PEM roots for TLS (e.g. the daemons' self-signed cert)
  std::string state_dir;  // the daemons' --state-dir: read when they cannot be reached
};

class Connection {
 public:
  static absl::StatusOr<Connection> Open(const ConnectionOptions& options);

  v1::Coordinator::Stub& stub() { return *stub_; }
  // A context carrying the token; `deadline_s` <= 0 means none (watch, blocking calls).
  std::unique_ptr<grpc::ClientContext> Context(double deadline_s = 30) const;
  // A failed call's status as a message for the user.
  std::string Explain(const grpc::Status& status) const;
  // A watch stream that had been working broke with `status` (UNAVAILABLE): the daemons
  // went away while the job was in `last`'s state at `step`; the journal's account of it
  // when state_dir is known.
  std::string ExplainLostWatch(const grpc::Status& status, const v1::JobStatus& last,
                               int64_t step) const;

 private:
  // What the journal in state_dir_ says of how the daemons ended ("" without one).
  std::string JournalSays() const;

  std::shared_ptr<v1::Coordinator::Stub> stub_;
  std::string addr_;
  std::string state_dir_;
  std::string token_;
};

}  // namespace zerod::client
