// A fine-tuning job's samples, evaluation set and length (finetune_data.h).
#include "engine/data/finetune_data.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/util/status_macros.h"

namespace zerod::data {

absl::StatusOr<std::unique_ptr<FinetuneData>> FinetuneData::Create(
    std::unique_ptr<SampleSet> train, std::unique_ptr<SampleSet> eval_file,
    const FinetuneConfig& config) {
  std::unique_ptr<FinetuneData> d(new FinetuneData());
  d->config_ = config;
  d->train_set_ = std::move(train);
  d->eval_set_ = std::move(eval_file);
  std::vector<int64_t> train_samples = AllSamples(d->train_set_->num_samples());
  std::vector<int64_t> eval_samples;
  const SampleSet* eval_source = d->eval_set_.get();
  if (config.eval_split.has_value()) {
    ASSIGN_OR_RETURN(SampleSplit split, SplitSamples(d->train_set_->num_samples(),
                                                     *config.eval_split, config.packer.seed));
    train_samples = std::move(split.train);
    eval_samples = std::move(split.eval);
    eval_source = d->train_set_.get();
  } else if (eval_source != nullptr) {
    eval_samples = AllSamples(eval_source->num_samples());
  }
  ASSIGN_OR_RETURN(PackedRows rows,
                   PackedRows::Create(d->train_set_.get(), train_samples, config.packer));
  d->train_rows_.emplace(std::move(rows));
  if (eval_source != nullptr) {
    PackerConfig eval = config.packer;
    eval.shuffle = false;
    absl::StatusOr<PackedRows> eval_rows = PackedRows::Create(eval_source, eval_samples, eval);
    if (!eval_rows.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the evaluation set: ", eval_rows.status().message()));
    }
    d->eval_rows_.emplace(std::move(eval_rows).value());
  }
  d->total_steps_ =
      config.epochs ? *config.epochs * d->train_rows_->steps_per_epoch() : config.steps;
  return d;
}

int64_t FinetuneData::epochs() const {
  const int64_t per_epoch = train_rows_->steps_per_epoch();
  return (total_steps_ + per_epoch - 1) / per_epoch;
}

std::string FinetuneData::Summary() const {
  const PackStats& s = train_rows_->stats();
  const PackerConfig& c = config_.packer;
  std::string out = "***** Running training *****\n";
  auto line = [&out](const char* key, const std::string& value) {
    absl::StrAppend(&out, "  ", key, " = ", value, "\n");
  };
  line("Num examples", absl::StrCat(s.packed));
  line("Num rows", absl::StrFormat("%d of %d tokens (%s, %.1f%% filled)", s.rows, s.seq_len,
                                   c.packing ? "packed" : "one sample each", 100.0 * s.fill()));
  line("Trained tokens", absl::StrCat(s.labels, " per epoch"));
  line("Num Epochs",
       config_.epochs ? absl::StrCat(*config_.epochs) : absl::StrCat(epochs(), " (from --steps)"));
  line("Instantaneous batch size per device", absl::StrCat(c.micro_batch));
  line("Total train batch size (w. parallel, distributed & accumulation)",
       absl::StrCat(c.global_batch));
  line("Gradient Accumulation steps", absl::StrCat(c.grad_accum));
  line("Steps per epoch", absl::StrCat(train_rows_->steps_per_epoch()));
  line("Total optimization steps", absl::StrCat(total_steps_));
  line("Truncated samples",
       absl::StrCat(s.truncated, " (longer than ", c.seq_len + 1, " tokens, cut to it)"));
  line("Dropped samples",
       absl::StrCat(s.dropped + s.too_short, " (", s.dropped,
                    " too long under --long-samples drop, ", s.too_short, " under 2 tokens)"));
  if (eval_rows_) {
    const PackStats& e = eval_rows_->stats();
    line("Num eval examples",
         absl::StrCat(e.packed, " (", config_.eval_split ? "held out by --split" : "--eval-data",
                      "), ", e.labels, " trained tokens in ", e.rows, " rows"));
  }
  return out;
}

}  // namespace zerod::data
