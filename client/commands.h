// zeroctl's subcommands. Each returns the process exit code: 0 on success, 1 when the
// call or the job failed (the reason printed to stderr), 2 for bad usage.
#pragma once

#include <string>

#include "client/connection.h"
#include "zerod.pb.h"

namespace zerod::client {

struct Output {
  bool json = false;  // one JSON object per result line
};

// Says why a call failed (Connection::Explain) on stderr; returns the exit code 1.
int Fail(const Connection& c, const grpc::Status& s);
// Writes `text` to stdout at once (watch redraws in place).
void Print(const std::string& text);

int Submit(Connection& c, const Output& out, v1::JobSpec spec, bool wait);
int Step(Connection& c, const Output& out, const std::string& job_id, int64_t steps);
int Status(Connection& c, const Output& out, const std::string& job_id);
int List(Connection& c, const Output& out);
// Follows a job to its end; exit code 0 only if it SUCCEEDED (client/watch.cpp).
int Watch(Connection& c, const Output& out, const std::string& job_id, bool from_start);
int Memory(Connection& c, const Output& out);
// Writes the job's HTML report (client/report_html.h) to `html_path`.
int Report(Connection& c, const Output& out, const std::string& job_id,
           const std::string& html_path);
int Cancel(Connection& c, const Output& out, const std::string& job_id);
int Checkpoint(Connection& c, const Output& out, const std::string& job_id, const std::string& dir);
int Export(Connection& c, const Output& out, const std::string& job_id, const std::string& dir);
int Health(Connection& c, const Output& out);
int Shutdown(Connection& c, const Output& out);

// `path` made absolute against zeroctl's working directory: the daemons run elsewhere.
std::string Absolute(const std::string& path);
// --model: made absolute when it is a local path, else kept (a Hub id).
std::string ModelArg(const std::string& model);

}  // namespace zerod::client
