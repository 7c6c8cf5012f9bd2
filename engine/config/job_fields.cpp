#include "engine/config/job_fields.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace zerod::config {
namespace {

constexpr unsigned kTrainSubmit = kTrainMode | kSubmitMode;
constexpr unsigned kJobModes = kTrainMode | kPlanMode | kSubmitMode;
constexpr unsigned kAllModes = kTrainMode | kEvalMode | kPlanMode | kSubmitMode;

ValueCheck AtLeast(double min) {
  ValueCheck c;
  c.min = min;
  return c;
}
ValueCheck Range(double min, double max, bool max_open = false) {
  ValueCheck c = AtLeast(min);
  c.max = max;
  c.max_open = max_open;
  return c;
}
ValueCheck OneOf(std::vector<std::string> choices) {
  ValueCheck c;
  c.choices = std::move(choices);
  return c;
}
ValueCheck AtMostBytes(size_t n) {
  ValueCheck c;
  c.max_bytes = n;
  return c;
}
const ValueCheck kPathCheck = AtMostBytes(kMaxPathBytes);

std::vector<JobField> MakeFields() {
  using F = FieldType;
  using W = WireUnset;
  return {
      {.name = "model_dir",
       .member = &JobSpec::model_dir,
       .type = F::kPath,
       .unit = "",
       .help = "Hugging Face model directory (config.json), or a Hub id in the local cache",
       .flag = "--model",
       .value_name = "DIR",
       .unset = W::kAsIs,
       .modes = kAllModes,
       .check = kPathCheck,
       .yaml_aliases = {"model"},
       .flag_aliases = {"--model-name", "--model_name_or_path"}},
      {.name = "ds_config_path",
       .member = &JobSpec::ds_config_path,
       .type = F::kPath,
       .unit = "",
       .help = "DeepSpeed JSON config",
       .flag = "--ds-config",
       .value_name = "FILE",
       .unset = W::kAsIs,
       .modes = kAllModes,
       .check = kPathCheck,
       .yaml_aliases = {"ds_config"},
       .flag_aliases = {"--deepspeed_config", "--deepspeed-config"}},
      {.name = "ds_config_json",
       .member = &JobSpec::ds_config_json,
       .type = F::kText,
       .unit = "",
       .help = "The DeepSpeed config's text inline (instead of ds_config_path)",
       .flag = nullptr,
       .value_name = "JSON",
       .unset = W::kAsIs,
       .modes = 0,
       .check = AtMostBytes(kMaxInlineConfigBytes)},
      {.name = "data_path",
       .member = &JobSpec::data_path,
       .type = F::kPath,
       .unit = "",
       .help = "Token file (raw little-endian uint16 or uint32; zerod --prepare-data makes one)",
       .flag = "--data",
       .value_name = "FILE",
       .unset = W::kAsIs,
       .modes = kTrainMode | kEvalMode | kSubmitMode,
       .check = kPathCheck,
       .yaml_aliases = {"data"}},
      {.name = "data_dtype",
       .member = &JobSpec::data_dtype,
       .type = F::kText,
       .unit = "",
       .help = "Token width in the data file",
       .flag = "--data-dtype",
       .value_name = "uint16|uint32",
       .unset = W::kEmpty,
       .modes = kTrainMode | kEvalMode | kSubmitMode,
       .check = OneOf({"uint16", "uint32"})},
      {.name = "steps",
       .member = &JobSpec::steps,
       .type = F::kInt,
       .unit = "optimizer steps",
       .help = "Optimizer steps in all (a resumed job counts the old ones)",
       .flag = "--steps",
       .value_name = "N",
       .unset = W::kAsIs,
       .modes = kJobModes,
       .check = Range(1, kMaxSteps),
       .flag_aliases = {"--max_steps"}},
      {.name = "seq_len",
       .member = &JobSpec::seq_len,
       .type = F::kInt,
       .unit = "tokens",
       .help = "Tokens per training sequence",
       .flag = "--seq-len",
       .value_name = "N",
       .unset = W::kAbsent,
       .modes = kAllModes,
       .check = Range(1, kMaxSeqLen),
       .flag_aliases = {"--max_seq_length", "--block_size"}},
      {.name = "seed",
       .member = &JobSpec::seed,
       .type = F::kUint,
       .unit = "",
       .help = "Seed of the weight init (a model without weights) and the data order",
       .flag = "--seed",
       .value_name = "N",
       .unset = W::kAbsent,
       .modes = kTrainMode | kEvalMode | kSubmitMode,
       .check = {}},
      {.name = "init",
       .member = &JobSpec::init,
       .type = F::kText,
       .unit = "",
       .help = "Weights: auto (the model directory's safetensors; the seed's init when it holds no "
               "weights at all) or random (the seed's init: train from scratch)",
       .flag = "--init",
       .value_name = "auto|random",
       .unset = W::kEmpty,
       .modes = kTrainSubmit,
       .check = OneOf({"auto", "random"})},
      {.name = "activation_checkpointing",
       .member = &JobSpec::activation_checkpointing,
       .type = F::kText,
       .unit = "",
       .help = "Recompute units in backward instead of keeping their activations: auto (the "
               "first layers, as many as memory requires, chosen by the plan), on (every unit; "
               "the flag alone), off",
       .flag = "--activation-checkpointing",
       .value_name = "auto|on|off",
       .unset = W::kEmpty,
       .modes = kJobModes,
       .check = OneOf({"auto", "on", "off", "true", "false"}),
       .flag_aliases = {"--gradient-checkpointing", "--gradient_checkpointing"},
       .bare_value = "on"},
      {.name = "resume_from",
       .member = &JobSpec::resume_from,
       .type = F::kPath,
       .unit = "",
       .help = "Continue from a checkpoint directory, or a save directory's newest complete "
               "checkpoint; steps stays the total",
       .flag = "--resume",
       .value_name = "DIR",
       .unset = W::kAsIs,
       .modes = kTrainSubmit,
       .check = kPathCheck,
       .yaml_aliases = {"resume"},
       .flag_aliases = {"--resume_from_checkpoint"}},
      {.name = "micro_batch_size",
       .member = &JobSpec::micro_batch_size,
       .type = F::kInt,
       .unit = "sequences",
       .help = "Sequences per rank per micro-step (fills the config's \"auto\"; Trainer default 8)",
       .flag = "--micro-batch-size",
       .value_name = "N",
       .unset = W::kAbsent,
       .modes = kJobModes,
       .check = AtLeast(1),
       .flag_aliases = {"--per_device_train_batch_size"}},
      {.name = "grad_accum",
       .member = &JobSpec::grad_accum,
       .type = F::kInt,
       .unit = "micro-steps",
       .help = "Micro-steps per optimizer step (fills \"auto\"; default 1)",
       .flag = "--grad-accum",
       .value_name = "N",
       .unset = W::kAbsent,
       .modes = kJobModes,
       .check = AtLeast(1),
       .flag_aliases = {"--gradient_accumulation_steps"}},
      {.name = "lr",
       .member = &JobSpec::lr,
       .type = F::kReal,
       .unit = "",
       .help = "Learning rate (fills \"auto\" and a config without an optimizer; default 5e-5)",
       .flag = "--lr",
       .value_name = "X",
       .unset = W::kAbsent,
       .modes = kJobModes,
       .check = Range(0, 1e3, /*max_open=*/true),
       .flag_aliases = {"--learning_rate"}},
      {.name = "warmup_steps",
       .member = &JobSpec::warmup_steps,
       .type = F::kInt,
       .unit = "steps",
       .help = "Warm-up steps of the schedule (fills \"auto\"; default 0)",
       .flag = "--warmup-steps",
       .value_name = "N",
       .unset = W::kAbsent,
       .modes = kJobModes,
       .check = AtLeast(0),
       .flag_aliases = {"--warmup_steps"}},
      {.name = "precision",
       .member = &JobSpec::precision,
       .type = F::kText,
       .unit = "",
       .help =
           "Fills fp16/bf16 \"enabled\": \"auto\" (unset: bf16 on a GPU that has it, else fp32)",
       .flag = "--precision",
       .value_name = "bf16|fp16|fp32",
       .unset = W::kAsIs,
       .modes = kJobModes,
       .check = OneOf({"bf16", "fp16", "fp32"})},
      {.name = "save_dir",
       .member = &JobSpec::save_dir,
       .type = F::kPath,
       .unit = "",
       .help = "When it succeeds (or is stopped by a signal), save a sharded checkpoint here",
       .flag = "--save-dir",
       .value_name = "DIR",
       .unset = W::kAsIs,
       .modes = kTrainSubmit,
       .check = kPathCheck,
       .flag_aliases = {"--output_dir"}},
      {.name = "save_every",
       .member = &JobSpec::save_every,
       .type = F::kInt,
       .unit = "steps",
       .help = "With save_dir: also save every N steps into SAVE_DIR/step_NNNNNNNN (0: never)",
       .flag = "--save-every",
       .value_name = "N",
       .unset = W::kAsIs,
       .modes = kTrainSubmit,
       .check = AtLeast(0),
       .flag_aliases = {"--save_steps"}},
      {.name = "keep_checkpoints",
       .member = &JobSpec::keep_checkpoints,
       .type = F::kInt,
       .unit = "checkpoints",
       .help = "Of the periodic checkpoints, keep the newest K",
       .flag = "--keep-checkpoints",
       .value_name = "K",
       .unset = W::kAbsent,
       .modes = kTrainSubmit,
       .check = AtLeast(1),
       .flag_aliases = {"--save_total_limit"}},
      {.name = "export_hf_dir",
       .member = &JobSpec::export_hf_dir,
       .type = F::kPath,
       .unit = "",
       .help = "When it succeeds, write the weights as a Hugging Face directory (config.json + "
               "safetensors)",
       .flag = "--export-hf",
       .value_name = "DIR",
       .unset = W::kAsIs,
       .modes = kTrainSubmit,
       .check = kPathCheck,
       .yaml_aliases = {"export_hf"}},
      {.name = "tensorboard_dir",
       .member = &JobSpec::tensorboard_dir,
       .type = F::kPath,
       .unit = "",
       .help = "TensorBoard event files go into DIR (a service job's into DIR/<job id>), as the "
               "DeepSpeed config's tensorboard section would put them",
       .flag = "--tensorboard",
       .value_name = "DIR",
       .unset = W::kAsIs,
       .modes = kTrainSubmit,
       .check = kPathCheck,
       .yaml_aliases = {"tensorboard"},
       .flag_aliases = {"--logging_dir"}},
      {.name = "epochs",
       .member = &JobSpec::epochs,
       .type = F::kInt,
       .unit = "epochs",
       .help = "Fine-tuning data: passes over the samples; the steps are epochs x steps per "
               "epoch (overrides --steps)",
       .flag = "--epochs",
       .value_name = "N",
       .unset = W::kAbsent,
       .modes = kTrainSubmit,
       .check = Range(1, 1e6),
       .flag_aliases = {"--num_train_epochs"}},
      {.name = "eval_data",
       .member = &JobSpec::eval_data,
       .type = F::kPath,
       .unit = "",
       .help = "Fine-tuning: a prepared sample file (FILE and FILE.samples) to evaluate on",
       .flag = "--eval-data",
       .value_name = "FILE",
       .unset = W::kAsIs,
       .modes = kTrainSubmit,
       .check = kPathCheck},
      {.name = "eval_split",
       .member = &JobSpec::eval_split,
       .type = F::kReal,
       .unit = "",
       .help = "Fine-tuning: hold out this share of the samples (seeded) to evaluate on",
       .flag = "--split",
       .value_name = "X",
       .unset = W::kAbsent,
       .modes = kTrainSubmit,
       .check = Range(0, 1, /*max_open=*/true),
       .flag_aliases = {"--eval-split"}},
      {.name = "eval_every",
       .member = &JobSpec::eval_every,
       .type = F::kInt,
       .unit = "steps",
       .help = "With an evaluation set: evaluate every N steps (0: after the last step only)",
       .flag = "--eval-every",
       .value_name = "N",
       .unset = W::kAsIs,
       .modes = kTrainSubmit,
       .check = AtLeast(0),
       .flag_aliases = {"--eval_steps"}},
      {.name = "packing",
       .member = &JobSpec::packing,
       .type = F::kText,
       .unit = "",
       .help = "Fine-tuning: pack several samples into a row (on) or one sample per row (off)",
       .flag = "--packing",
       .value_name = "on|off",
       .unset = W::kEmpty,
       .modes = kTrainSubmit,
       .check = OneOf({"on", "off"})},
      {.name = "long_samples",
       .member = &JobSpec::long_samples,
       .type = F::kText,
       .unit = "",
       .help = "Fine-tuning: samples over seq_len + 1 tokens are cut (truncate) or left out "
               "(drop)",
       .flag = "--long-samples",
       .value_name = "truncate|drop",
       .unset = W::kEmpty,
       .modes = kTrainSubmit,
       .check = OneOf({"truncate", "drop"})},
      {.name = "save_best",
       .member = &JobSpec::save_best,
       .type = F::kBool,
       .unit = "",
       .help = "With save_dir and an evaluation set: keep the checkpoint of the lowest "
               "evaluation loss (SAVE_DIR/step_NNNNNNNN, never rotated out)",
       .flag = "--save-best",
       .value_name = "",
       .unset = W::kAsIs,
       .modes = kTrainSubmit,
       .check = {},
       .flag_aliases = {"--load_best_model_at_end"}},
      {.name = "name",
       .member = &JobSpec::name,
       .type = F::kText,
       .unit = "",
       .help = "A label for `zeroctl list`",
       .flag = "--name",
       .value_name = "TEXT",
       .unset = W::kAsIs,
       .modes = kSubmitMode,
       .check = AtMostBytes(kMaxNameBytes)},
      {.name = "start_paused",
       .member = &JobSpec::start_paused,
       .type = F::kBool,
       .unit = "",
       .help = "Start paused after setup: advance it with `zeroctl step`",
       .flag = "--paused",
       .value_name = "",
       .unset = W::kAsIs,
       .modes = kSubmitMode,
       .check = {},
       .yaml_aliases = {"paused"}},
  };
}

// The shortest text that reads back to `v`.
std::string RealText(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string NumberText(double v) {
  return std::floor(v) == v && std::fabs(v) < 1e18 ? absl::StrCat(static_cast<int64_t>(v))
                                                   : RealText(v);
}

absl::Status Invalid(const JobField& field, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(field.name, ": ", what));
}

absl::Status NotA(const JobField& field, const std::string& text) {
  return absl::InvalidArgumentError(
      absl::StrCat("must be ", Expected(field), ", got \"", text, "\""));
}

template <typename T>
bool ParseWhole(const std::string& text, T* out) {
  const char* end = text.data() + text.size();
  const auto r = std::from_chars(text.data(), end, *out);
  return r.ec == std::errc() && r.ptr == end;
}

bool ParseReal(const std::string& text, double* out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  *out = std::strtod(text.c_str(), &end);
  return errno == 0 && *end == '\0' && std::isfinite(*out);
}

bool ParseBool(const std::string& text, bool* out) {
  const std::string t = absl::AsciiStrToLower(text);
  for (const char* yes : {"true", "yes", "on", "1", "y"}) {
    if (t == yes) return *out = true, true;
  }
  for (const char* no : {"false", "no", "off", "0", "n"}) {
    if (t == no) return *out = false, true;
  }
  return false;
}

// "bf16, fp16 or fp32"
std::string ChoiceList(const std::vector<std::string>& choices) {
  if (choices.size() < 2) return absl::StrJoin(choices, "");
  return absl::StrCat(absl::StrJoin(choices.begin(), choices.end() - 1, ", "), " or ",
                      choices.back());
}

absl::Status CheckNumber(const JobField& field, double v) {
  const ValueCheck& c = field.check;
  const bool above_max = c.max_open ? v >= c.max : v > c.max;
  if (!(v < c.min) && !above_max) return absl::OkStatus();
  if (std::isinf(c.max))
    return Invalid(field, absl::StrCat(NumberText(v), " < ", NumberText(c.min)));
  return Invalid(field, absl::StrCat(NumberText(v), " is not in [", NumberText(c.min), ", ",
                                     NumberText(c.max), c.max_open ? ")" : "]"));
}

absl::Status CheckText(const JobField& field, const std::string& v) {
  const ValueCheck& c = field.check;
  if (c.max_bytes > 0 && v.size() > c.max_bytes)
    return Invalid(field, absl::StrCat("longer than ", c.max_bytes, " bytes"));
  if (c.choices.empty() || v.empty()) return absl::OkStatus();
  for (const std::string& choice : c.choices) {
    if (v == choice) return absl::OkStatus();
  }
  return Invalid(field, absl::StrCat("'", v, "' is not ", ChoiceList(c.choices)));
}

}  // namespace

const std::vector<JobField>& JobFields() {
  static const auto* fields = new std::vector<JobField>(MakeFields());
  return *fields;
}

const JobField* FindJobField(std::string_view name) {
  for (const JobField& f : JobFields()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

std::string FieldText(const JobField& field, const JobSpec& spec) {
  return std::visit(
      [&spec](auto member) -> std::string {
        const auto& v = spec.*member;
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::optional<double>>) {
          return v ? RealText(*v) : "";
        } else if constexpr (std::is_same_v<T, std::optional<int64_t>>) {
          return v ? absl::StrCat(*v) : "";
        } else {
          return absl::StrCat(v);
        }
      },
      field.member);
}

std::string DefaultText(const JobField& field) { return FieldText(field, JobSpec{}); }

bool FieldIsUnset(const JobField& field, const JobSpec& spec) {
  return std::visit(
      [&spec](auto member) {
        using T = std::decay_t<decltype(spec.*member)>;
        if constexpr (std::is_same_v<T, std::optional<int64_t>> ||
                      std::is_same_v<T, std::optional<double>>) {
          return !(spec.*member).has_value();
        } else {
          return false;
        }
      },
      field.member);
}

std::string Expected(const JobField& field) {
  switch (field.type) {
    case FieldType::kInt:
    case FieldType::kUint:
      return "a whole number";
    case FieldType::kReal:
      return "a number";
    case FieldType::kBool:
      return "true or false";
    case FieldType::kPath:
      return "a path";
    case FieldType::kText:
      break;
  }
  return field.check.choices.empty() ? "text" : ChoiceList(field.check.choices);
}

absl::Status SetFieldFromText(const JobField& field, const std::string& text, JobSpec* spec) {
  return std::visit(
      [&](auto member) -> absl::Status {
        auto& v = spec->*member;
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          v = text;
        } else if constexpr (std::is_same_v<T, bool>) {
          if (!ParseBool(text, &v)) return NotA(field, text);
        } else if constexpr (std::is_same_v<T, std::optional<double>>) {
          double x = 0;
          if (!ParseReal(text, &x)) return NotA(field, text);
          v = x;
        } else if constexpr (std::is_same_v<T, std::optional<int64_t>>) {
          int64_t x = 0;
          if (!ParseWhole(text, &x)) return NotA(field, text);
          v = x;
        } else {
          if (!ParseWhole(text, &v)) return NotA(field, text);
        }
        return absl::OkStatus();
      },
      field.member);
}

absl::Status CheckField(const JobField& field, const JobSpec& spec) {
  return std::visit(
      [&](auto member) -> absl::Status {
        const auto& v = spec.*member;
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return CheckText(field, v);
        } else if constexpr (std::is_same_v<T, bool>) {
          return absl::OkStatus();
        } else if constexpr (std::is_same_v<T, std::optional<double>> ||
                             std::is_same_v<T, std::optional<int64_t>>) {
          return v ? CheckNumber(field, static_cast<double>(*v)) : absl::OkStatus();
        } else {
          return CheckNumber(field, static_cast<double>(v));
        }
      },
      field.member);
}

absl::Status CheckJobValues(const JobSpec& spec) {
  for (const JobField& f : JobFields()) {
    if (absl::Status s = CheckField(f, spec); !s.ok()) return s;
  }
  if (spec.save_every > 0 && spec.save_dir.empty()) {
    return absl::InvalidArgumentError(
        "save_every: --save-every needs --save-dir (the periodic checkpoints go into it)");
  }
  if (!spec.eval_data.empty() && spec.eval_split.has_value()) {
    return absl::InvalidArgumentError(
        "eval_split: --split and --eval-data both name an evaluation set; give one of them");
  }
  if (spec.eval_split.has_value() && *spec.eval_split <= 0.0) {
    return absl::InvalidArgumentError(
        "eval_split: must be above 0 (the share of the samples held out, e.g. 0.02)");
  }
  const bool has_eval = !spec.eval_data.empty() || spec.eval_split.has_value();
  if (spec.eval_every > 0 && !has_eval) {
    return absl::InvalidArgumentError(
        "eval_every: --eval-every needs an evaluation set: --eval-data FILE or --split 0.02");
  }
  if (spec.save_best && (spec.save_dir.empty() || !has_eval || spec.eval_every == 0)) {
    return absl::InvalidArgumentError(
        "save_best: --save-best needs --save-dir (the best checkpoint goes into it), an "
        "evaluation set (--eval-data or --split) and --eval-every N");
  }
  return absl::OkStatus();
}

}  // namespace zerod::config
