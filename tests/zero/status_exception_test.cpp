// Note [exceptions] (engine/zero/status_exception.h): a Status thrown inside autograd comes
// back out of backward() as the very Status; torch's own errors and std::bad_alloc become
// Status values by the file's one rule.
#include "engine/zero/status_exception.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <new>
#include <string>

namespace zerod::zero {
namespace {

// An autograd function whose backward fails the way the engine's hooks do.
class FailingBackward : public torch::autograd::Function<FailingBackward> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext*, torch::Tensor x) { return x * 2; }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext*,
                                                 torch::autograd::variable_list) {
    ThrowIfError(absl::DeadlineExceededError("rank 1 did not answer the reduce-scatter"));
    return {torch::Tensor()};
  }
};

TEST(StatusExceptionTest, AStatusThrownInBackwardComesBackWithItsCode) {
  torch::Tensor x = torch::ones({3}, torch::requires_grad());
  absl::Status s = CatchToStatus(absl::StatusCode::kInternal, "step 4",
                                 [&] { FailingBackward::apply(x).sum().backward(); });
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(s.message(), "step 4: rank 1 did not answer the reduce-scatter");
}

TEST(StatusExceptionTest, TorchErrorsTakeTheCallersCodeWithoutTheBacktrace) {
  absl::Status s = CatchToStatus(absl::StatusCode::kInternal, "step 1", [] {
    (void)torch::matmul(torch::ones({2, 3}), torch::ones({2, 3}));
  });
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(s.message().rfind("step 1: ", 0), 0u) << s.message();
  EXPECT_NE(s.message().find("cannot be multiplied"), std::string::npos) << s.message();
  EXPECT_EQ(s.message().find("Exception raised from"), std::string::npos) << s.message();
}

TEST(StatusExceptionTest, AllocationFailuresAreResourceExhausted) {
  absl::Status s =
      CatchToStatus(absl::StatusCode::kInternal, "buffers", [] { throw std::bad_alloc(); });
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
}

TEST(StatusExceptionTest, TheFunctionsOwnStatusIsReturnedAsIs) {
  EXPECT_TRUE(CatchToStatus(absl::StatusCode::kInternal, "x", [] {}).ok());
  absl::Status s = CatchToStatus(absl::StatusCode::kInternal, "x",
                                 [] { return absl::NotFoundError("no shard file"); });
  EXPECT_EQ(s, absl::NotFoundError("no shard file"));
}

}  // namespace
}  // namespace zerod::zero
