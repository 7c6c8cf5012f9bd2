#include "coordinator/auth.h"

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace zerod::coordinator {

absl::StatusOr<std::string> ReadTokenLine(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("--token-file ", path, " cannot be read"));
  std::string line;
  std::getline(in, line);
  return std::string(absl::StripAsciiWhitespace(line));
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  absl::StatusOr<std::string> token = ReadTokenLine(path);
  if (!token.ok()) return token;
  if (token->empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--token-file ", path,
                     " is empty: put a secret on its first line, e.g. "
                     "`openssl rand -hex 32 > ",
                     path, "`"));
  }
  return token;
}

bool ConstantTimeEquals(const std::string& a, const std::string& b) {
  // Lengths are not secret (the token's length is fixed by whoever made it).
  if (a.size() != b.size()) return false;
  // Every byte is read whatever the earlier ones were; volatile keeps the compiler
  // from ending the loop early.
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

absl::Status CheckBearer(const std::string& token, const std::string& authorization) {
  if (token.empty()) return absl::OkStatus();
  // RFC 9110 11.1: the scheme is case-insensitive ("bearer", "BEARER"), then one or more
  // spaces before the credentials.
  const absl::string_view value = absl::StripAsciiWhitespace(authorization);
  const absl::string_view scheme = "bearer";
  const bool bearer = value.size() > scheme.size() && value[scheme.size()] == ' ' &&
                      absl::EqualsIgnoreCase(value.substr(0, scheme.size()), scheme);
  const absl::string_view credentials =
      bearer ? absl::StripLeadingAsciiWhitespace(value.substr(scheme.size())) : "";
  if (!bearer || !ConstantTimeEquals(std::string(credentials), token)) {
    return absl::UnauthenticatedError(
        "missing or wrong token: pass --token-file with the file the daemons were started with");
  }
  return absl::OkStatus();
}

}  // namespace zerod::coordinator
