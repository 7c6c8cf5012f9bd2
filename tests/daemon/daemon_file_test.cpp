// The daemons' settings file (daemon/daemon_file.h): every key read, keys the file leaves
// out keep their values, an unknown key refused with the closest known one, a wrong type
// named with its line.
#include "daemon/daemon_file.h"

#include <gtest/gtest.h>

namespace zerod::daemon {
namespace {

TEST(DaemonFileTest, EveryKeyIsReadAndTheOthersKeepTheirValues) {
  DaemonSettings s;
  s.server.tls_key = "kept.pem";
  ASSERT_TRUE(ParseDaemonFile("listen: 0.0.0.0:9000\ntoken-file: t\ntls_cert: c.pem\n"
                              "state_dir: /var/lib/zerod\ncollective_timeout: 42.5\n"
                              "metrics_listen: 127.0.0.1:9400\ninsecure_listen: true\n",
                              "zerod.yaml", s)
                  .ok());
  EXPECT_EQ(s.server.listen, "0.0.0.0:9000");
  EXPECT_EQ(s.server.token_file, "t");
  EXPECT_EQ(s.server.tls_cert, "c.pem");
  EXPECT_EQ(s.server.tls_key, "kept.pem");
  EXPECT_EQ(s.server.state_dir, "/var/lib/zerod");
  EXPECT_DOUBLE_EQ(s.collective_timeout, 42.5);
  EXPECT_EQ(s.server.metrics_listen, "127.0.0.1:9400");
  EXPECT_TRUE(s.server.insecure_listen);
  EXPECT_FALSE(ParseDaemonFile("insecure_listen: maybe\n", "zerod.yaml", s).ok());
}

TEST(DaemonFileTest, UnknownKeysAndWrongTypesAreRefusedWithTheirLine) {
  DaemonSettings s;
  absl::Status unknown = ParseDaemonFile("listen: a:1\nlisen: b:2\n", "zerod.yaml", s);
  EXPECT_NE(unknown.message().find(
                "zerod.yaml:2: lisen is not a daemon setting; did you mean \"listen\"?"),
            std::string::npos)
      << unknown;
  absl::Status wrong = ParseDaemonFile("collective_timeout: soon\n", "zerod.yaml", s);
  EXPECT_NE(wrong.message().find("zerod.yaml:1: collective_timeout must be a number of seconds"),
            std::string::npos)
      << wrong;
  EXPECT_EQ(LoadDaemonFile("/no/such/zerod.yaml", s).code(), absl::StatusCode::kNotFound);
}

TEST(DaemonFileTest, TheShippedExampleParses) {
  DaemonSettings s;
  EXPECT_TRUE(LoadDaemonFile(std::string(ZEROD_SOURCE_DIR) + "/configs/zerod.yaml", s).ok());
  EXPECT_EQ(s.server.listen, "127.0.0.1:7070");
  EXPECT_FALSE(s.server.insecure_listen);
}

}  // namespace
}  // namespace zerod::daemon
