#include "client/connection.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "coordinator/auth.h"
#include "coordinator/journal.h"

namespace zerod::client {

absl::StatusOr<Connection> Connection::Open(const ConnectionOptions& options) {
  Connection c;
  c.addr_ = options.addr;
  c.state_dir_ = options.state_dir;
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
                          status.error_message(), ")", JournalSays(),
                          ". Start the daemons first, e.g. `mpirun -np 2 build/bin/zerod "
                          "--listen ",
                          addr_, "`, or pass --addr HOST:PORT");
    case grpc::StatusCode::UNAUTHENTICATED:
      return absl::StrCat(status.error_message(), " (addr ", addr_, ")");
    default:
      return status.error_message();
  }
}

std::string Connection::ExplainLostWatch(const grpc::Status& status, const v1::JobStatus& last,
                                         int64_t step) const {
  const std::string journal = JournalSays();
  return absl::StrCat(
      "the zerod daemons at ", addr_, " went away while ", last.job_id(), " was ",
      v1::JobState_Name(last.state()), " (last seen at step ", step, " of ", last.steps_total(),
      "; ", status.error_message(), ")",
      journal.empty() ? ": a rank crashed or was killed, or the daemons were stopped; their log "
                        "says which (pass --state-dir DIR, or $ZEROD_STATE_DIR, for the "
                        "journal's account)"
                      : journal);
}

// What the journal of the daemons' --state-dir tells about how they ended: a job that was
// running when they died, or that every job had ended (they were shut down).
std::string Connection::JournalSays() const {
  if (state_dir_.empty()) return "";
  std::vector<std::string> crashed;
  const std::vector<v1::JobStatus> jobs =
      coordinator::ReplayJournal(coordinator::JournalPath(state_dir_), &crashed);
  if (jobs.empty()) return absl::StrCat("; the journal in ", state_dir_, " holds no job");
  std::vector<std::string> interrupted;
  for (const v1::JobStatus& j : jobs) {
    if (std::find(crashed.begin(), crashed.end(), j.job_id()) != crashed.end())
      interrupted.push_back(j.job_id() + ": " + j.reason());
  }
  if (interrupted.empty()) {
    const v1::JobStatus& last = jobs.back();
    return absl::StrCat("; they are not running: the journal in ", state_dir_,
                        " shows every job ended (the last, ", last.job_id(), ", ",
                        v1::JobState_Name(last.state()), ")");
  }
  return absl::StrCat("; they crashed or were killed: ", absl::StrJoin(interrupted, "; "));
}

}  // namespace zerod::client
