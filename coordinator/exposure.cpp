#include "coordinator/exposure.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace zerod::coordinator {
namespace {

// HOST of HOST:PORT or [HOST]:PORT ("" when there is none: every interface).
std::string HostOf(const std::string& listen) {
  if (absl::StartsWith(listen, "[")) {
    const size_t close = listen.find(']');
    return close == std::string::npos ? listen.substr(1) : listen.substr(1, close - 1);
  }
  const size_t colon = listen.rfind(':');
  return colon == std::string::npos ? listen : listen.substr(0, colon);
}

// One listening endpoint and what an open one gives away.
struct Endpoint {
  const char* flag;        // "--listen"
  const char* name;        // "the coordinator"
  std::string address;     // as given
  const char* open_means;  // what anyone who reaches it can do
  bool tls;                // the token travels encrypted
  const char* tls_fix;     // how to stop sending it in clear text
};

}  // namespace

bool IsLoopbackListen(const std::string& listen) {
  if (absl::StartsWith(listen, "unix:") || absl::StartsWith(listen, "unix-abstract:")) return true;
  const std::string host = HostOf(listen);
  if (absl::AsciiStrToLower(host) == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
  }
  return false;
}

absl::StatusOr<std::vector<std::string>> CheckExposure(const ServerOptions& options) {
  const bool token = !options.token_file.empty();
  std::vector<Endpoint> endpoints = {
      {"--listen", "the coordinator", options.listen,
       "submit jobs that read and write any path as the daemons' user, and shut them down",
       !options.tls_cert.empty(), "Pass --tls-cert/--tls-key (zeroctl: --tls-ca)"}};
  if (!options.metrics_listen.empty()) {
    endpoints.push_back({"--metrics-listen", "the metrics page", options.metrics_listen,
                         "read every job's id, progress and memory", /*tls=*/false,
                         "The metrics page has no TLS: keep --metrics-listen on 127.0.0.1 (a "
                         "TLS proxy in front of it for scrapes from other hosts)"});
  }
  std::vector<std::string> warnings;
  for (const Endpoint& e : endpoints) {
    if (IsLoopbackListen(e.address)) continue;
    if (!token && !options.insecure_listen) {
      return absl::FailedPreconditionError(absl::StrCat(
          e.flag, " ", e.address,
          " can be reached from other hosts and no --token-file is set: anyone who reaches it "
          "could ",
          e.open_means,
          ". Pass --token-file F (with --tls-cert/--tls-key, so the token is not sent in clear "
          "text), listen on 127.0.0.1, or serve it open anyway with --insecure-listen "
          "(insecure_listen: true in --config)"));
    }
    if (!token) {
      warnings.push_back(absl::StrCat("INSECURE (--insecure-listen): ", e.name, " on ", e.address,
                                      " serves every caller without a token: anyone who reaches "
                                      "it can ",
                                      e.open_means, ". Close it with --token-file F"));
    } else if (!e.tls) {
      warnings.push_back(absl::StrCat(
          e.name, " on ", e.address,
          " takes the token in clear text (no TLS): anyone on the network path can read it and "
          "use it. ",
          e.tls_fix));
    }
  }
  return warnings;
}

}  // namespace zerod::coordinator
