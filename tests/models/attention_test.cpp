// The attention kernels against transformers' eager computation (MaskedAttention: full
// scores, soft-capped, masked, softmax in float32): the blocked kernel of soft-capped and
// windowed attention, values and gradients, over several uneven query blocks, windows
// shorter than a block and than the sequence, and grouped-query heads; the kernel choice
// of CausalAttention; on a GPU, flash attention with the window in the kernel. Packed rows
// (Note [packed rows]): every kernel with a layout equals each document run alone, windows
// and soft-capping included; on a GPU the variable-length flash kernel too.
#include "engine/models/attention.h"

#include <gtest/gtest.h>

namespace zerod::models {
namespace {

struct Qkv {
  torch::Tensor q, k, v;
};

Qkv Random(int64_t T, torch::ScalarType dtype = torch::kFloat32, torch::Device device = torch::kCPU,
           double spread = 2.0) {
  torch::manual_seed(7);
  auto o = torch::TensorOptions().dtype(torch::kFloat32);
  Qkv x{torch::randn({2, 4, T, 8}, o) * spread, torch::randn({2, 2, T, 8}, o) * spread,
        torch::randn({2, 2, T, 8}, o)};
  for (torch::Tensor* t : {&x.q, &x.k, &x.v}) *t = t->to(device, dtype).requires_grad_(true);
  return x;
}

double MaxDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a.to(torch::kFloat32).cpu() - b.to(torch::kFloat32).cpu()).abs().max().item<double>();
}

// Output and the gradients of <output, w> for a fixed random w.
std::vector<torch::Tensor> OutputAndGrads(const Qkv& x,
                                          const std::function<torch::Tensor(const Qkv&)>& kernel) {
  torch::Tensor y = kernel(x);
  torch::manual_seed(11);
  torch::Tensor w = torch::randn(y.sizes(), y.options().dtype(torch::kFloat32)).to(y.dtype());
  auto grads = torch::autograd::grad({(y * w).sum()}, {x.q, x.k, x.v});
  return {y.detach(), grads[0], grads[1], grads[2]};
}

void ExpectSame(const std::vector<torch::Tensor>& got, const std::vector<torch::Tensor>& want,
                double tolerance, const std::string& what) {
  const char* names[] = {"output", "dq", "dk", "dv"};
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_LT(MaxDiff(got[i], want[i]), tolerance) << what << ": " << names[i];
}

// Each document (documents[b]: row b's lengths) run alone through `kernel`, its output in
// its place: what a packed row must compute.
torch::Tensor DocumentsAlone(const Qkv& a, const std::vector<std::vector<int64_t>>& documents,
                             const std::function<torch::Tensor(const Qkv&)>& kernel) {
  std::vector<torch::Tensor> rows;
  for (size_t b = 0; b < documents.size(); ++b) {
    std::vector<torch::Tensor> parts;
    int64_t start = 0;
    for (int64_t n : documents[b]) {
      auto piece = [&](const torch::Tensor& t) {
        return t.narrow(0, static_cast<int64_t>(b), 1).narrow(2, start, n);
      };
      parts.push_back(kernel(Qkv{piece(a.q), piece(a.k), piece(a.v)}));
      start += n;
    }
    rows.push_back(torch::cat(parts, 2));
  }
  return torch::cat(rows, 0);
}

TEST(AttentionTest, BlockedEqualsEagerWithSoftcapWindowsAndUnevenBlocks) {
  const Qkv x = Random(13);
  for (double softcap : {0.0, 1.5}) {
    for (int64_t window : {0, 1, 4, 13}) {
      for (int64_t block : {1, 3, 5, 13}) {
        const AttentionOptions o{
            .scale = 0.3, .window = window, .softcap = softcap, .query_block = block};
        const std::string what = "softcap " + std::to_string(softcap) + " window " +
                                 std::to_string(window) + " block " + std::to_string(block);
        ExpectSame(
            OutputAndGrads(x, [&](const Qkv& a) { return BlockedAttention(a.q, a.k, a.v, o); }),
            OutputAndGrads(x, [&](const Qkv& a) { return MaskedAttention(a.q, a.k, a.v, o); }),
            1e-5, what);
      }
    }
  }
}

TEST(AttentionTest, CausalAttentionPicksAKernelThatEqualsEager) {
  const Qkv x = Random(11);
  for (const AttentionOptions& o :
       {AttentionOptions{}, AttentionOptions{.scale = 0.2}, AttentionOptions{.window = 4},
        AttentionOptions{.window = 11},  // no shorter than T: causal
        AttentionOptions{.window = 3, .softcap = 2.0}}) {
    ExpectSame(OutputAndGrads(x, [&](const Qkv& a) { return CausalAttention(a.q, a.k, a.v, o); }),
               OutputAndGrads(x, [&](const Qkv& a) { return MaskedAttention(a.q, a.k, a.v, o); }),
               1e-5, "window " + std::to_string(o.window));
  }
}

TEST(AttentionTest, PackedRowsEqualDocumentsAloneInEveryKernel) {
  const Qkv x = Random(13);
  const std::vector<std::vector<int64_t>> docs = {{4, 1, 8}, {6, 7}};
  auto layout = LayoutOfDocuments(docs, 13, torch::kCPU);
  ASSERT_TRUE(layout.ok()) << layout.status();
  for (const AttentionOptions& o :
       {AttentionOptions{}, AttentionOptions{.scale = 0.3}, AttentionOptions{.window = 3},
        AttentionOptions{.window = 8}, AttentionOptions{.softcap = 1.5},
        AttentionOptions{.window = 3, .softcap = 1.5}}) {
    const std::string what =
        "window " + std::to_string(o.window) + " softcap " + std::to_string(o.softcap);
    const auto alone = OutputAndGrads(x, [&](const Qkv& a) {
      return DocumentsAlone(a, docs,
                            [&](const Qkv& d) { return MaskedAttention(d.q, d.k, d.v, o); });
    });
    ExpectSame(
        OutputAndGrads(x, [&](const Qkv& a) { return MaskedAttention(a.q, a.k, a.v, o, *layout); }),
        alone, 1e-5, "masked, " + what);
    ExpectSame(
        OutputAndGrads(x, [&](const Qkv& a) { return CausalAttention(a.q, a.k, a.v, o, *layout); }),
        alone, 1e-5, "causal (SDPA or blocked), " + what);
    for (int64_t block : {1, 3, 5, 13}) {
      AttentionOptions ob = o;
      ob.query_block = block;
      ExpectSame(OutputAndGrads(
                     x, [&](const Qkv& a) { return BlockedAttention(a.q, a.k, a.v, ob, *layout); }),
                 alone, 1e-5, "blocked " + std::to_string(block) + ", " + what);
    }
  }
}

TEST(AttentionTest, OneDocumentPerRowEqualsNoLayout) {
  const Qkv x = Random(9);
  auto layout = LayoutOfDocuments({{9}, {9}}, 9, torch::kCPU);
  ASSERT_TRUE(layout.ok()) << layout.status();
  for (const AttentionOptions& o : {AttentionOptions{}, AttentionOptions{.window = 4},
                                    AttentionOptions{.window = 4, .softcap = 2.0}}) {
    ExpectSame(
        OutputAndGrads(x, [&](const Qkv& a) { return CausalAttention(a.q, a.k, a.v, o, *layout); }),
        OutputAndGrads(x, [&](const Qkv& a) { return CausalAttention(a.q, a.k, a.v, o); }), 1e-6,
        "window " + std::to_string(o.window));
  }
}

// On a GPU in bfloat16: flash attention with window_size_left against the eager float32
// computation (bfloat16's own rounding bounds the difference).
TEST(AttentionGpuTest, FlashWindowEqualsEager) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no GPU";
  const torch::Device gpu(torch::kCUDA, 0);
  const Qkv x = Random(300, torch::kBFloat16, gpu, 1.0);
  Qkv x32;
  for (auto [dst, src] : {std::pair{&x32.q, &x.q}, {&x32.k, &x.k}, {&x32.v, &x.v}})
    *dst = src->detach().to(torch::kFloat32).requires_grad_(true);
  ASSERT_TRUE(FlashAttentionApplies(x.q));
  for (int64_t window : {1, 64, 257}) {
    const AttentionOptions o{.window = window};
    ExpectSame(
        OutputAndGrads(x, [&](const Qkv& a) { return FlashWindowAttention(a.q, a.k, a.v, o); }),
        OutputAndGrads(x32, [&](const Qkv& a) { return MaskedAttention(a.q, a.k, a.v, o); }), 5e-2,
        "window " + std::to_string(window));
  }
}

// On a GPU in bfloat16: the variable-length flash kernel over a packed batch (documents of
// uneven lengths, a row of one document, windows inside and across documents) against
// each document alone in the eager float32 computation; CausalAttention picks it.
TEST(AttentionGpuTest, FlashVarlenEqualsDocumentsAlone) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no GPU";
  const torch::Device gpu(torch::kCUDA, 0);
  const Qkv x = Random(300, torch::kBFloat16, gpu, 1.0);
  Qkv x32;
  for (auto [dst, src] : {std::pair{&x32.q, &x.q}, {&x32.k, &x.k}, {&x32.v, &x.v}})
    *dst = src->detach().to(torch::kFloat32).requires_grad_(true);
  ASSERT_TRUE(FlashAttentionApplies(x.q));
  const std::vector<std::vector<int64_t>> docs = {{100, 1, 37, 162}, {300}};
  auto layout = LayoutOfDocuments(docs, 300, gpu);
  ASSERT_TRUE(layout.ok()) << layout.status();
  for (int64_t window : {0, 1, 64, 257}) {
    const AttentionOptions o{.window = window};
    const auto alone = OutputAndGrads(x32, [&](const Qkv& a) {
      return DocumentsAlone(a, docs,
                            [&](const Qkv& d) { return MaskedAttention(d.q, d.k, d.v, o); });
    });
    const std::string what = "window " + std::to_string(window);
    ExpectSame(
        OutputAndGrads(
            x, [&](const Qkv& a) { return FlashWindowAttention(a.q, a.k, a.v, o, *layout); }),
        alone, 5e-2, "flash varlen, " + what);
    ExpectSame(
        OutputAndGrads(x, [&](const Qkv& a) { return CausalAttention(a.q, a.k, a.v, o, *layout); }),
        alone, 5e-2, "causal, " + what);
  }
}

}  // namespace
}  // namespace zerod::models
