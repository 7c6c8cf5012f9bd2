// Fine-tuning against transformers (issue 24) on the fixtures with packed.json, under
// mpirun at world sizes 1, 2 and 4, with and without activation checkpointing (whose
// recomputation must see the micro-batch's layout again): masked labels (-100) give per-
// token losses of 0 whose sum over the count of labels is transformers' loss, with its
// gradient norm; and packed rows (several documents per row, padding at a row's end)
// compute each document as transformers computes it alone: logits, each document's loss,
// the loss over all labels and its gradient norm (Note [packed rows], attention.h).
#include <gtest/gtest.h>

#include <cstdio>

#include "engine/models/lm_loss.h"
#include "engine/models/sequence_layout.h"
#include "tests/support/hf_fixture.h"
#include "tests/support/test_env.h"

namespace zerod::testing {
namespace {

double Relative(double got, double want) { return std::abs(got - want) / std::abs(want); }

zero::EngineOptions Options(bool checkpointing, torch::Device device) {
  zero::EngineOptions opts;
  opts.persistence_threshold_numel = 0;  // release and re-gather every unit
  opts.activation_checkpointing = checkpointing;
  opts.device = device;
  return opts;
}

// The next-token targets of packed rows: the next token of the same document; no label
// (-100) at a document's last token, where the next token starts another, and in padding.
torch::Tensor PackedTargets(const PackedFixture& p) {
  const int64_t T = p.packed_ids.size(1);
  torch::Tensor targets = torch::full(p.packed_ids.sizes(), models::kIgnoreIndex, torch::kInt64);
  for (size_t b = 0; b < p.documents.size(); ++b) {
    int64_t start = 0;
    for (size_t d = 0; d < p.documents[b].size(); ++d) {
      const int64_t n = p.documents[b][d];
      const bool pad = p.padding[b] && d + 1 == p.documents[b].size();
      if (!pad) {
        targets[b].narrow(0, start, n - 1).copy_(p.packed_ids[b].narrow(0, start + 1, n - 1));
      }
      start += n;
    }
    EXPECT_EQ(start, T);
  }
  return targets;
}

// On `device` over `comm` (the CPU world unless given).
void ExpectMaskedLabelsMatch(comm::Communicator* comm = nullptr,
                             torch::Device device = torch::kCPU) {
  for (const std::string& name : PackedFixtureNames()) {
    const HfFixture f = LoadHfFixture(name);
    const PackedFixture p = LoadPackedFixture(f);
    const int64_t T = f.input_ids.size(1);
    const torch::Tensor labels = p.masked_labels.narrow(1, 1, T - 1);
    const torch::Tensor unlabelled = labels == models::kIgnoreIndex;
    ASSERT_GT(unlabelled.sum().item<int64_t>(), 0) << name;
    for (bool checkpointing : {false, true}) {
      auto engine = FixtureEngine(f, Options(checkpointing, device), comm);
      const torch::Tensor losses =
          engine->ForwardLosses(f.input_ids.narrow(1, 0, T - 1), labels).cpu();
      EXPECT_TRUE(torch::equal(losses.masked_select(unlabelled),
                               torch::zeros({unlabelled.sum().item<int64_t>()})))
          << name << ": a position without a label has a loss";
      const torch::Tensor loss = losses.sum() / unlabelled.logical_not().sum();
      (loss / static_cast<double>(World().world_size())).backward();
      auto step = engine->Step({.lr = 0.0, .weight_decay = 0.0}, 1.0, 0.0, false);
      ASSERT_TRUE(step.ok()) << step.status();
      EXPECT_LT(Relative(loss.item<double>(), p.masked_loss), 1e-5)
          << name << ": masked loss " << loss.item<double>() << " vs " << p.masked_loss;
      EXPECT_LT(Relative(step->grad_norm, p.masked_grad_norm), 1e-5)
          << name << ": grad norm " << step->grad_norm << " vs " << p.masked_grad_norm;
      if (World().rank() == 0 && !checkpointing) {
        std::printf("  %-26s masked loss rel %.1e | grad norm rel %.1e\n", name.c_str(),
                    Relative(loss.item<double>(), p.masked_loss),
                    Relative(step->grad_norm, p.masked_grad_norm));
      }
    }
  }
}

void ExpectPackedRowsMatch(comm::Communicator* comm = nullptr, torch::Device device = torch::kCPU) {
  for (const std::string& name : PackedFixtureNames()) {
    const HfFixture f = LoadHfFixture(name);
    const PackedFixture p = LoadPackedFixture(f);
    const int64_t T = p.packed_ids.size(1);
    auto layout = models::LayoutOfDocuments(p.documents, T, torch::kCPU);
    ASSERT_TRUE(layout.ok()) << layout.status();
    const torch::Tensor targets = PackedTargets(p);
    for (bool checkpointing : {false, true}) {
      auto engine = FixtureEngine(f, Options(checkpointing, device), comm);
      {
        torch::NoGradGuard no_grad;
        const torch::Tensor logits = engine->Forward(p.packed_ids, *layout).cpu();
        for (size_t b = 0; b < p.documents.size(); ++b) {
          const int64_t real = T - (p.padding[b] ? p.documents[b].back() : 0);
          const double diff = (logits[b].narrow(0, 0, real) - p.logits[b].narrow(0, 0, real))
                                  .abs()
                                  .max()
                                  .item<double>();
          EXPECT_LT(diff, 1e-4) << name << ": row " << b << " logits max abs difference";
        }
      }
      const torch::Tensor losses =
          engine->ForwardLosses(p.packed_ids, targets, *layout).cpu();  // (B, T)
      size_t doc = 0;
      for (size_t b = 0; b < p.documents.size(); ++b) {
        int64_t start = 0;
        for (size_t d = 0; d < p.documents[b].size(); ++d) {
          const int64_t n = p.documents[b][d];
          if (!(p.padding[b] && d + 1 == p.documents[b].size())) {
            const double got =
                losses[b].narrow(0, start, n).sum().item<double>() / static_cast<double>(n - 1);
            EXPECT_LT(Relative(got, p.doc_losses.at(doc)), 1e-5)
                << name << ": document " << doc << " loss " << got << " vs " << p.doc_losses[doc];
            ++doc;
          }
          start += n;
        }
      }
      EXPECT_EQ(doc, p.doc_losses.size()) << name;
      const torch::Tensor loss = losses.sum() / (targets != models::kIgnoreIndex).sum();
      (loss / static_cast<double>(World().world_size())).backward();
      auto step = engine->Step({.lr = 0.0, .weight_decay = 0.0}, 1.0, 0.0, false);
      ASSERT_TRUE(step.ok()) << step.status();
      EXPECT_LT(Relative(loss.item<double>(), p.packed_loss), 1e-5)
          << name << ": packed loss " << loss.item<double>() << " vs " << p.packed_loss;
      EXPECT_LT(Relative(step->grad_norm, p.packed_grad_norm), 1e-5)
          << name << ": grad norm " << step->grad_norm << " vs " << p.packed_grad_norm;
      if (World().rank() == 0 && !checkpointing) {
        std::printf("  %-26s packed loss rel %.1e | grad norm rel %.1e\n", name.c_str(),
                    Relative(loss.item<double>(), p.packed_loss),
                    Relative(step->grad_norm, p.packed_grad_norm));
      }
    }
  }
}

TEST(HfPackedTest, MaskedLabelsGiveTransformersLossAndGradientNorm) { ExpectMaskedLabelsMatch(); }

TEST(HfPackedTest, PackedRowsComputeEachDocumentAsTransformersDoesAlone) {
  ExpectPackedRowsMatch();
}

// The GPU path (CUDA builds on a GPU host), float32 as the fixtures: NCCL, the layout
// moved to the device, SDPA's block-diagonal mask (flash needs 16-bit: AttentionGpuTest).
TEST(HfPackedGpuTest, MaskedLabelsAndPackedRowsMatchTransformersOnTheGpu) {
  if (GpuWorld() == nullptr) GTEST_SKIP() << "no GPU path in this build or host";
  const torch::Device gpu(torch::kCUDA, static_cast<c10::DeviceIndex>(World().local_rank()));
  ExpectMaskedLabelsMatch(GpuWorld(), gpu);
  ExpectPackedRowsMatch(GpuWorld(), gpu);
}

}  // namespace
}  // namespace zerod::testing
