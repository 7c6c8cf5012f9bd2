#include <gtest/gtest.h>

#include "coordinator/auth.h"
#include "coordinator/validate.h"

namespace zerod::coordinator {
namespace {

TEST(AuthTest, BearerTokenMustMatchExactly) {
  EXPECT_TRUE(CheckBearer("", "").ok()) << "no token configured: open";
  EXPECT_TRUE(CheckBearer("abc", "Bearer abc").ok());
  EXPECT_EQ(CheckBearer("abc", "").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(CheckBearer("abc", "Bearer abd").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(CheckBearer("abc", "Bearer abcd").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(CheckBearer("abc", "abc").code(), absl::StatusCode::kUnauthenticated);
}

// RFC 9110 11.1: the auth scheme is case-insensitive; Prometheus, curl and proxies may send
// "bearer". The token itself is compared exactly.
TEST(AuthTest, TheBearerSchemeMatchesInAnyCase) {
  for (const char* header :
       {"Bearer abc", "bearer abc", "BEARER abc", "bEaReR abc", "Bearer  abc", " Bearer abc "}) {
    EXPECT_TRUE(CheckBearer("abc", header).ok()) << "\"" << header << "\"";
  }
  for (const char* header : {"Bearer ABC", "Bearerabc", "Bearer", "Bearer ", "Basic abc",
                             "Beare abc", "Bearers abc", "abc Bearer"}) {
    EXPECT_EQ(CheckBearer("abc", header).code(), absl::StatusCode::kUnauthenticated)
        << "\"" << header << "\"";
  }
}

TEST(ValidateTest, RefusalsNameTheField) {
  v1::JobSpec spec;
  spec.set_model_dir("/no/such/dir");
  absl::Status s = ValidateJobSpec(&spec);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().substr(0, 10), "model_dir:");

  spec.set_model_dir(ZEROD_SOURCE_DIR "/configs/models/tiny-llama");
  s = ValidateJobSpec(&spec);
  EXPECT_EQ(s.message().substr(0, 15), "ds_config_path:") << s;

  spec.set_ds_config_json("[1, 2]");
  s = ValidateJobSpec(&spec);
  EXPECT_EQ(s.message().substr(0, 15), "ds_config_json:") << s;

  spec.set_ds_config_json("{}");
  spec.set_data_path("/no/such/file");
  s = ValidateJobSpec(&spec);
  EXPECT_EQ(s.message().substr(0, 10), "data_path:") << s;

  spec.set_data_path(ZEROD_SOURCE_DIR "/configs/models/tiny-llama/config.json");
  spec.set_steps(0);
  s = ValidateJobSpec(&spec);
  EXPECT_EQ(s.message().substr(0, 6), "steps:") << s;

  spec.set_steps(10);
  spec.set_seq_len(-1);
  s = ValidateJobSpec(&spec);
  EXPECT_EQ(s.message().substr(0, 8), "seq_len:") << s;

  spec.clear_seq_len();
  EXPECT_TRUE(ValidateJobSpec(&spec).ok());
  EXPECT_EQ(spec.seq_len(), 128) << "defaults filled in";
  EXPECT_EQ(spec.data_dtype(), "uint16");
  EXPECT_EQ(ValidateStepCount(0).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace zerod::coordinator
