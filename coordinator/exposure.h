// What the daemons expose, decided once before anything listens (README, Security): an
// address other hosts can reach serves only callers with the token.
//
//   listen (gRPC) or metrics_listen    no token          token, no TLS       token + TLS
//   loopback (127/8, ::1, localhost)   served            served              served
//   any other address                  refused, unless   served, warning:    served
//                                      insecure_listen   token in clear text
//                                      (then a warning)
//
// The metrics page is plain HTTP, so a token-protected metrics_listen on another address
// always warns that the token travels in clear text. A unix: socket counts as loopback
// (its file's permissions decide who connects).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/service.h"

namespace zerod::coordinator {

// True when HOST of `listen` (HOST:PORT, [V6]:PORT, or unix:PATH) is reachable from this
// host only. A name other than localhost is not resolved and counts as exposed.
bool IsLoopbackListen(const std::string& listen);

// The warnings the daemons must print (one line each, empty when nothing is exposed), or
// FailedPrecondition naming the flag and the ways out when an exposed address has no token
// and `insecure_listen` is off.
absl::StatusOr<std::vector<std::string>> CheckExposure(const ServerOptions& options);

}  // namespace zerod::coordinator
