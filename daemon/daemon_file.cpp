#include "daemon/daemon_file.h"

#include "engine/config/yaml_struct.h"

namespace zerod::daemon {
namespace {

using config::YamlKeys;
using config::YamlSetter;

// A member of the server's options, read as config::YamlMember reads it.
template <typename Member>
YamlSetter<DaemonSettings> ServerMember(Member coordinator::ServerOptions::*member,
                                        const char* expected) {
  auto inner = config::YamlMember(member, expected);
  return [inner](const std::string& source, const YAML::Node& node, const std::string& key,
                 DaemonSettings& out) { return inner(source, node, key, out.server); };
}

const YamlKeys<DaemonSettings>& Keys() {
  static const auto* keys = new YamlKeys<DaemonSettings>{
      {"listen", ServerMember(&coordinator::ServerOptions::listen, "HOST:PORT")},
      {"token_file", ServerMember(&coordinator::ServerOptions::token_file, "a file")},
      {"tls_cert", ServerMember(&coordinator::ServerOptions::tls_cert, "a PEM file")},
      {"tls_key", ServerMember(&coordinator::ServerOptions::tls_key, "a PEM file")},
      {"state_dir", ServerMember(&coordinator::ServerOptions::state_dir, "a directory")},
      {"metrics_listen", ServerMember(&coordinator::ServerOptions::metrics_listen, "HOST:PORT")},
      {"insecure_listen",
       ServerMember(&coordinator::ServerOptions::insecure_listen, "true or false")},
      {"collective_timeout",
       config::YamlMember(&DaemonSettings::collective_timeout, "a number of seconds")},
  };
  return *keys;
}

}  // namespace

absl::Status ParseDaemonFile(const std::string& text, const std::string& source,
                             DaemonSettings& settings) {
  return config::ReadYamlStruct(text, source, Keys(), "a daemon setting", settings);
}

absl::Status LoadDaemonFile(const std::string& path, DaemonSettings& settings) {
  auto text = config::ReadYamlFile(path, "--config");
  if (!text.ok()) return text.status();
  return ParseDaemonFile(*text, path, settings);
}

}  // namespace zerod::daemon
