// What the daemons may expose (coordinator/exposure.h): loopback is served as asked; an
// address other hosts reach needs a token or --insecure-listen, and every exposure the
// user accepted is said in a warning.
#include "coordinator/exposure.h"

#include <gtest/gtest.h>

#include <string>

namespace zerod::coordinator {
namespace {

std::string Joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  return out;
}

TEST(ExposureTest, LoopbackIs127Slash8ColonColon1LocalhostAndUnixSockets) {
  for (const char* local :
       {"127.0.0.1:7070", "127.8.9.10:1", "localhost:7070", "LocalHost:1", "[::1]:7070",
        "[::ffff:127.0.0.1]:7070", "unix:/tmp/zerod.sock", "unix-abstract:zerod"}) {
    EXPECT_TRUE(IsLoopbackListen(local)) << local;
  }
  for (const char* exposed :
       {"0.0.0.0:7070", "[::]:7070", ":7070", "10.1.2.3:7070", "128.0.0.1:7070", "myhost:7070",
        "localhost.example.com:7070", "[2001:db8::1]:7070", "[::ffff:10.0.0.1]:7070"}) {
    EXPECT_FALSE(IsLoopbackListen(exposed)) << exposed;
  }
}

TEST(ExposureTest, LoopbackWithoutATokenIsServedWithoutWarnings) {
  ServerOptions o;
  o.listen = "127.0.0.1:7070";
  o.metrics_listen = "localhost:9400";
  auto warnings = CheckExposure(o);
  ASSERT_TRUE(warnings.ok()) << warnings.status();
  EXPECT_TRUE(warnings->empty()) << Joined(*warnings);
}

TEST(ExposureTest, ANonLoopbackListenWithoutATokenIsRefusedNamingTheWaysOut) {
  ServerOptions o;
  o.listen = "0.0.0.0:7070";
  auto refused = CheckExposure(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  const std::string m(refused.status().message());
  EXPECT_EQ(m.rfind("--listen 0.0.0.0:7070 can be reached from other hosts", 0), 0u) << m;
  for (const char* way :
       {"--token-file", "--tls-cert", "127.0.0.1", "--insecure-listen", "insecure_listen: true"}) {
    EXPECT_NE(m.find(way), std::string::npos) << way << " in: " << m;
  }
  o.tls_cert = "c.pem";  // TLS alone authenticates nobody
  o.tls_key = "k.pem";
  EXPECT_FALSE(CheckExposure(o).ok());
}

TEST(ExposureTest, InsecureListenServesItAndSaysInsecure) {
  ServerOptions o;
  o.listen = "0.0.0.0:7070";
  o.insecure_listen = true;
  auto warnings = CheckExposure(o);
  ASSERT_TRUE(warnings.ok()) << warnings.status();
  ASSERT_EQ(warnings->size(), 1u);
  EXPECT_EQ(warnings->front().rfind("INSECURE (--insecure-listen): the coordinator on 0.0.0.0:7070 "
                                    "serves every caller without a token",
                                    0),
            0u)
      << warnings->front();
}

TEST(ExposureTest, ATokenWithoutTlsOnANonLoopbackAddressWarnsOfClearText) {
  ServerOptions o;
  o.listen = "0.0.0.0:7070";
  o.token_file = "token";
  auto warnings = CheckExposure(o);
  ASSERT_TRUE(warnings.ok()) << warnings.status();
  ASSERT_EQ(warnings->size(), 1u);
  EXPECT_NE(warnings->front().find("takes the token in clear text"), std::string::npos)
      << warnings->front();
  EXPECT_NE(warnings->front().find("--tls-cert/--tls-key"), std::string::npos);
  o.tls_cert = "c.pem";
  o.tls_key = "k.pem";
  warnings = CheckExposure(o);
  ASSERT_TRUE(warnings.ok());
  EXPECT_TRUE(warnings->empty()) << Joined(*warnings);
}

TEST(ExposureTest, MetricsListenFollowsTheSameRuleAndHasNoTls) {
  ServerOptions o;
  o.metrics_listen = "0.0.0.0:9400";
  auto refused = CheckExposure(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message().rfind("--metrics-listen 0.0.0.0:9400 can be reached", 0), 0u)
      << refused.status();
  o.insecure_listen = true;
  auto insecure = CheckExposure(o);
  ASSERT_TRUE(insecure.ok());
  ASSERT_EQ(insecure->size(), 1u);
  EXPECT_NE(insecure->front().find("INSECURE (--insecure-listen): the metrics page on "
                                   "0.0.0.0:9400"),
            std::string::npos)
      << insecure->front();
  // With a token and TLS on the coordinator, the metrics page still sends it in clear text.
  o.insecure_listen = false;
  o.token_file = "token";
  o.tls_cert = "c.pem";
  o.tls_key = "k.pem";
  auto warned = CheckExposure(o);
  ASSERT_TRUE(warned.ok());
  ASSERT_EQ(warned->size(), 1u) << Joined(*warned);
  EXPECT_NE(warned->front().find("the metrics page on 0.0.0.0:9400 takes the token in "
                                 "clear text"),
            std::string::npos)
      << warned->front();
}

}  // namespace
}  // namespace zerod::coordinator
