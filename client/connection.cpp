#include "client/connection.h"

#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "coordinator/auth.h"

namespace zerod::client {

absl::StatusOr<Connection> Connection::Open(const ConnectionOptions& options) {
  Connection c;
  c.addr_ = options.addr;
  if (!options.token_file.empty()) {
    absl::StatusOr<std::string> token = coordinator::ReadTokenLine(options.token_file);
    if (!token.ok()) return token.status();
    c.token_ = *std::move(token);
  }
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (options.tls || !options.tls_ca.empty()) {
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_ca.empty()) {
      std::ifstream in(options.tls_ca);
      if (!in)
        return absl::NotFoundError(absl::StrCat("--tls-ca ", options.tls_ca, " cannot be read"));
      std::stringstream pem;
      pem << in.rdbuf();
      ssl.pem_root_certs = pem.str();
    }
    creds = grpc::SslCredentials(ssl);
  }
  c.stub_ = v1::Coordinator::NewStub(grpc::CreateChannel(options.addr, creds));
  return c;
}

std::unique_ptr<grpc::ClientContext> Connection::Context(double deadline_s) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
  if (deadline_s > 0) {
    ctx->set_deadline(std::chrono::system_clock::now() +
                      std::chrono::milliseconds(static_cast<int64_t>(deadline_s * 1000)));
  }
  return ctx;
}

std::string Connection::Explain(const grpc::Status& status) const {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::StrCat("cannot reach the zerod coordinator at ", addr_, " (",
                          status.error_message(),
                          "). Start the daemons first, e.g. `mpirun -np 2 build/bin/zerod "
                          "--listen ",
                          addr_, "`, or pass --addr HOST:PORT");
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::StrCat(status.error_message(), " (addr ", addr_, ")");
    default:
      return status.error_message();
  }
}

}  // namespace zerod::client
