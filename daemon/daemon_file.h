// The daemons' own settings from a YAML file (`zerod --config F.yaml`), so a site keeps
// them in one place instead of on every launch line:
//
//   listen: 0.0.0.0:7070         # the coordinator's gRPC address (rank 0)
//   token_file: /etc/zerod/token # require a bearer token
//   tls_cert: cert.pem           # with tls_key: TLS
//   tls_key: key.pem
//   state_dir: /var/lib/zerod    # the job journal (locked: one daemon set per directory)
//   metrics_listen: 127.0.0.1:9400  # Prometheus metrics
//   insecure_listen: false       # serve a non-loopback address without a token (refused)
//   collective_timeout: 600      # seconds a rank waits for the others (0: forever)
//
// Flags given beside --config override the file's values. An unknown key is refused naming
// the closest known one, a wrong type naming its line (engine/config/yaml_struct.h).
#pragma once

#include <string>

#include "absl/status/status.h"
#include "coordinator/service.h"

namespace zerod::daemon {

struct DaemonSettings {
  coordinator::ServerOptions server;
  double collective_timeout = 300;  // seconds; 0: wait forever (--collective-timeout)
};

// Reads the file at `path` over `settings` (keys it does not name keep their values).
absl::Status LoadDaemonFile(const std::string& path, DaemonSettings& settings);
// The same over the file's text; `source` names it in errors.
absl::Status ParseDaemonFile(const std::string& text, const std::string& source,
                             DaemonSettings& settings);

}  // namespace zerod::daemon
