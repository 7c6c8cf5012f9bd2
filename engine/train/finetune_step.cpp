// Packed rows as tensors, masked losses, the evaluation of a packed set (finetune_step.h).
#include "engine/train/finetune_step.h"

#include <cmath>

#include "engine/models/lm_loss.h"
#include "engine/util/status_macros.h"
#include "engine/zero/status_exception.h"

namespace zerod::train {

static_assert(data::kIgnoreLabel == models::kIgnoreIndex,
              "the packer's no-label is the loss's ignore_index");

BatchTensors ToTensors(const data::PackedBatch& b, int64_t seq_len, torch::Device device) {
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  // from_blob borrows `b`'s memory, and .to() of a CPU tensor to the CPU is no copy: each
  // tensor is cloned so that it owns its memory past `b`.
  auto own = [device](torch::Tensor t) { return t.to(device).clone(); };
  BatchTensors t;
  t.ids = torch::from_blob(const_cast<int64_t*>(b.inputs.data()), {b.rows, seq_len}, i64).clone();
  t.labels = own(torch::from_blob(const_cast<int64_t*>(b.labels.data()), {b.rows, seq_len}, i64));
  t.layout.positions =
      own(torch::from_blob(const_cast<int64_t*>(b.positions.data()), {b.rows, seq_len}, i64));
  t.layout.cu_seqlens = own(torch::from_blob(const_cast<int32_t*>(b.cu_seqlens.data()),
                                             {static_cast<int64_t>(b.cu_seqlens.size())},
                                             torch::TensorOptions().dtype(torch::kInt32)));
  t.layout.max_seqlen = b.max_seqlen;
  return t;
}

torch::Tensor MaskedLosses(zero::ZeroEngine& engine, const BatchTensors& batch) {
  // The loss is 0 at a -100 target (models/lm_loss.h) and attention stays inside each
  // document (the layout): what each sample computes alone.
  return engine.ForwardLosses(batch.ids, batch.labels, batch.layout);
}

absl::StatusOr<EvalFigures> EvaluatePacked(zero::ZeroEngine& engine, const data::PackedRows& rows,
                                           comm::Communicator& comm) {
  const data::PackerConfig& c = rows.config();
  double sums[2] = {0.0, 0.0};  // nats, labels
  torch::NoGradGuard no_grad;
  auto pass = [&] {
    for (int64_t b = 0; b < rows.steps_per_epoch(); ++b) {
      for (int64_t m = 0; m < c.grad_accum; ++m) {
        const data::PackedBatch packed = rows.MicroBatch(b, m, comm.rank());
        // Every rank runs every forward (its collectives), empty rows included.
        const BatchTensors t = ToTensors(packed, c.seq_len, engine.device());
        sums[0] += MaskedLosses(engine, t).to(torch::kFloat64).sum().item<double>();
        sums[1] += static_cast<double>(packed.label_count);
      }
    }
  };
  absl::Status passed =
      zero::CatchToStatus(absl::StatusCode::kInternal, "evaluation forward", pass);
  if (passed.ok()) passed = engine.ReleaseAll();
  RETURN_IF_ERROR(comm::AgreeOnStatus(comm, passed));
  RETURN_IF_ERROR(comm.AllReduce(sums, 2, DType::kFloat64, comm::ReduceOp::kSum));
  EvalFigures f;
  f.tokens = static_cast<int64_t>(sums[1]);
  f.loss = f.tokens > 0 ? sums[0] / sums[1] : 0.0;
  f.perplexity = std::exp(f.loss);
  return f;
}

}  // namespace zerod::train
