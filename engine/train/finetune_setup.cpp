// A fine-tuning job's data and defaults (finetune_setup.h).
#include "engine/train/finetune_setup.h"

#include "absl/strings/str_cat.h"
#include "engine/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace zerod::train {

bool IsFinetuneJob(const JobSpec& spec) { return data::SampleFile::Exists(spec.data_path); }

absl::Status CheckPretrainingSpec(const JobSpec& spec) {
  const char* field = spec.epochs                   ? "epochs"
                      : !spec.eval_data.empty()     ? "eval_data"
                      : spec.eval_split             ? "eval_split"
                      : spec.eval_every > 0         ? "eval_every"
                      : spec.save_best              ? "save_best"
                      : spec.packing == "off"       ? "packing"
                      : spec.long_samples == "drop" ? "long_samples"
                                                    : nullptr;
  if (field == nullptr) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, ": is for fine-tuning data, and ", spec.data_path, " is a plain token file (no ",
      spec.data_path,
      ".samples beside it): prepare the samples with zerod --prepare-data, or leave it out"));
}

absl::StatusOr<std::unique_ptr<data::FinetuneData>> OpenFinetuneData(const JobSpec& spec,
                                                                     int64_t vocab_size,
                                                                     const config::DsConfig& ds,
                                                                     int world_size) {
  ASSIGN_OR_RETURN(std::unique_ptr<data::SampleFile> train,
                   data::SampleFile::Open(spec.data_path, vocab_size));
  std::unique_ptr<data::SampleFile> eval;
  if (!spec.eval_data.empty()) {
    if (!data::SampleFile::Exists(spec.eval_data)) {
      return absl::InvalidArgumentError(
          absl::StrCat("eval_data: ", spec.eval_data, " has no ", spec.eval_data,
                       ".samples beside it: give a file prepared as the training data is"));
    }
    ASSIGN_OR_RETURN(eval, data::SampleFile::Open(spec.eval_data, vocab_size));
  }
  data::FinetuneConfig c;
  c.packer.seq_len = spec.seq_len;
  c.packer.packing = spec.packing != "off";
  c.packer.long_samples =
      spec.long_samples == "drop" ? data::LongSamples::kDrop : data::LongSamples::kTruncate;
  c.packer.global_batch = ds.train_batch_size;
  c.packer.micro_batch = ds.micro_batch_per_gpu;
  c.packer.grad_accum = ds.gradient_accumulation_steps;
  c.packer.world_size = world_size;
  c.packer.seed = spec.seed;
  c.eval_split = spec.eval_split;
  c.epochs = spec.epochs;
  c.steps = spec.steps;
  absl::StatusOr<std::unique_ptr<data::FinetuneData>> d =
      data::FinetuneData::Create(std::move(train), std::move(eval), c);
  if (!d.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("data_path: ", spec.data_path, ": ", d.status().message()));
  }
  return d;
}

std::vector<std::string> ApplyTrainerDefaults(const std::string& ds_text, int64_t total_steps,
                                              int64_t warmup_steps, config::DsConfig* ds) {
  // The text parsed already (ParseDsConfig): only its top-level keys are read here.
  const nlohmann::json json = nlohmann::json::parse(ds_text, nullptr, /*allow_exceptions=*/false,
                                                    /*ignore_comments=*/true);
  auto has = [&json](const char* key) { return json.is_object() && json.contains(key); };
  std::vector<std::string> notes;
  if (!has("gradient_clipping")) {
    ds->gradient_clipping = 1.0;
    notes.push_back("no gradient_clipping: 1.0 (Hugging Face Trainer's max_grad_norm)");
  }
  if (!has("scheduler")) {
    optim::LrScheduleConfig& s = ds->scheduler;
    s.type = optim::LrScheduleConfig::Type::kLinear;
    s.lr = ds->adamw.lr;
    s.warmup_num_steps = warmup_steps;
    s.total_num_steps = total_steps;
    notes.push_back(absl::StrCat("no scheduler: linear from ", s.lr, " after ", warmup_steps,
                                 " warm-up steps down to 0 at step ", total_steps,
                                 " (Hugging Face Trainer's default)"));
  }
  // Without an "optimizer": the parser's AdamW at the Trainer's lr (5e-5) and weight decay
  // (0), said in its own note.
  return notes;
}

}  // namespace zerod::train
