// ZEROD_PROFILE_STEP: which step is profiled, where its trace goes, and that the trace is
// written only for that step.
#include "engine/train/step_profile.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace zerod::train {
namespace {

std::function<const char*(const char*)> Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

TEST(StepProfileTest, NoRequestUnlessAPositiveStepIsGiven) {
  EXPECT_FALSE(ProfileRequestFromEnv(Env({})).has_value());
  EXPECT_FALSE(ProfileRequestFromEnv(Env({{"ZEROD_PROFILE_STEP", ""}})).has_value());
  EXPECT_FALSE(ProfileRequestFromEnv(Env({{"ZEROD_PROFILE_STEP", "0"}})).has_value());
  EXPECT_FALSE(ProfileRequestFromEnv(Env({{"ZEROD_PROFILE_STEP", "two"}})).has_value());
}

TEST(StepProfileTest, TracePathDefaultsToTheStepsName) {
  auto r = ProfileRequestFromEnv(Env({{"ZEROD_PROFILE_STEP", "3"}}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->step, 3);
  EXPECT_EQ(r->trace_path, "zerod_step_3.trace.json");
  r = ProfileRequestFromEnv(
      Env({{"ZEROD_PROFILE_STEP", "3"}, {"ZEROD_PROFILE_TRACE", "/x/t.json"}}));
  EXPECT_EQ(r->trace_path, "/x/t.json");
}

TEST(StepProfileTest, WritesAChromeTraceOfTheNamedStepOnly) {
  const std::filesystem::path path =
      std::filesystem::path(testing::TempDir()) / "step_profile_test.trace.json";
  std::filesystem::remove(path);
  StepProfile profile(ProfileRequest{2, path.string()});
  for (int64_t step = 1; step <= 3; ++step) {
    profile.Begin(step);
    (void)torch::mm(torch::ones({8, 8}), torch::ones({8, 8})).sum().item<float>();
    profile.End(step);
    EXPECT_EQ(std::filesystem::exists(path), step == 2) << "after step " << step;
    if (step == 2) {
      std::stringstream text;
      text << std::ifstream(path).rdbuf();
      EXPECT_NE(text.str().find("\"traceEvents\""), std::string::npos);
      EXPECT_NE(text.str().find("aten::mm"), std::string::npos);
      std::filesystem::remove(path);
    }
  }
}

}  // namespace
}  // namespace zerod::train
