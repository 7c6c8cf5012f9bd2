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

ValueCheck AtLeast(double min) { return {.min = min}; }
ValueCheck Range(double min, double max) { return {.min = min, .max = max}; }
ValueCheck OneOf(std::vector<std::string> choices) { return {.choices = std::move(choices)}; }
ValueCheck AtMostBytes(size_t n) { return {.max_bytes = n}; }
const ValueCheck kPathCheck = AtMostBytes(kMaxPathBytes);

std::vector<JobField> MakeFields() {
  using F = FieldType;
  using W = WireUnset;
  return {
      {"model_dir", &JobSpec::model_dir, F::kPath, "",
       "Hugging Face model directory (config.json), or a Hub id in the local cache", "--model",
       "DIR", W::kAsIs, kAllModes, kPathCheck, {"model"},
       {"--model-name", "--model_name_or_path"}},
      {"ds_config_path", &JobSpec::ds_config_path, F::kPath, "", "DeepSpeed JSON config",
       "--ds-config", "FILE", W::kAsIs, kAllModes, kPathCheck, {"ds_config"},
       {"--deepspeed_config", "--deepspeed-config"}},
      {"ds_config_json", &JobSpec::ds_config_json, F::kText, "",
       "The DeepSpeed config's text inline (instead of ds_config_path)", nullptr, "JSON",
       W::kAsIs, 0, AtMostBytes(kMaxInlineConfigBytes)},
      {"data_path", &JobSpec::data_path, F::kPath, "",
       "Token file (raw little-endian uint16 or uint32; zerod --prepare-data makes one)",
       "--data", "FILE", W::kAsIs, kTrainMode | kEvalMode | kSubmitMode, kPathCheck, {"data"}},
      {"data_dtype", &JobSpec::data_dtype, F::kText, "", "Token width in the data file",
       "--data-dtype", "uint16|uint32", W::kEmpty, kTrainMode | kEvalMode | kSubmitMode,
       OneOf({"uint16", "uint32"})},
      {"steps", &JobSpec::steps, F::kInt, "optimizer steps",
       "Optimizer steps in all (a resumed job counts the old ones)", "--steps", "N", W::kAsIs,
       kJobModes, Range(1, kMaxSteps), {}, {"--max_steps"}},
      {"seq_len", &JobSpec::seq_len, F::kInt, "tokens", "Tokens per training sequence",
       "--seq-len", "N", W::kAbsent, kAllModes, Range(1, kMaxSeqLen), {},
       {"--max_seq_length", "--block_size"}},
      {"seed", &JobSpec::seed, F::kUint, "",
       "Seed of the weight init (a model without weights) and the data order", "--seed", "N",
       W::kAbsent, kTrainMode | kEvalMode | kSubmitMode, {}},
      {"init", &JobSpec::init, F::kText, "",
       "Weights: auto (the model directory's safetensors; the seed's init when it holds no "
       "weights at all) or random (the seed's init: train from scratch)",
       "--init", "auto|random", W::kEmpty, kTrainSubmit, OneOf({"auto", "random"})},
      {"activation_checkpointing", &JobSpec::activation_checkpointing, F::kBool, "",
       "Recompute each unit in backward instead of keeping its activations",
       "--activation-checkpointing", "", W::kAsIs, kJobModes, {}, {},
       {"--gradient-checkpointing", "--gradient_checkpointing"}},
      {"resume_from", &JobSpec::resume_from, F::kPath, "",
       "Continue from a checkpoint directory, or a save directory's newest complete "
       "checkpoint; steps stays the total",
       "--resume", "DIR", W::kAsIs, kTrainSubmit, kPathCheck, {"resume"},
       {"--resume_from_checkpoint"}},
      {"micro_batch_size", &JobSpec::micro_batch_size, F::kInt, "sequences",
       "Sequences per rank per micro-step (fills the config's \"auto\"; Trainer default 8)",
       "--micro-batch-size", "N", W::kAbsent, kJobModes, AtLeast(1), {},
       {"--per_device_train_batch_size"}},
      {"grad_accum", &JobSpec::grad_accum, F::kInt, "micro-steps",
       "Micro-steps per optimizer step (fills \"auto\"; default 1)", "--grad-accum", "N",
       W::kAbsent, kJobModes, AtLeast(1), {}, {"--gradient_accumulation_steps"}},
      {"lr", &JobSpec::lr, F::kReal, "",
       "Learning rate (fills \"auto\" and a config without an optimizer; default 5e-5)", "--lr",
       "X", W::kAbsent, kJobModes, {.min = 0, .max = 1e3, .max_open = true}, {},
       {"--learning_rate"}},
      {"warmup_steps", &JobSpec::warmup_steps, F::kInt, "steps",
       "Warm-up steps of the schedule (fills \"auto\"; default 0)", "--warmup-steps", "N",
       W::kAbsent, kJobModes, AtLeast(0), {}, {"--warmup_steps"}},
      {"precision", &JobSpec::precision, F::kText, "",
       "Fills fp16/bf16 \"enabled\": \"auto\" (unset: bf16 on a GPU that has it, else fp32)",
       "--precision", "bf16|fp16|fp32", W::kAsIs, kJobModes, OneOf({"bf16", "fp16", "fp32"})},
      {"save_dir", &JobSpec::save_dir, F::kPath, "",
       "When it succeeds (or is stopped by a signal), save a sharded checkpoint here", "--save-dir",
       "DIR", W::kAsIs, kTrainSubmit, kPathCheck, {}, {"--output_dir"}},
      {"save_every", &JobSpec::save_every, F::kInt, "steps",
       "With save_dir: also save every N steps into SAVE_DIR/step_NNNNNNNN (0: never)",
       "--save-every", "N", W::kAsIs, kTrainSubmit, AtLeast(0), {}, {"--save_steps"}},
      {"keep_checkpoints", &JobSpec::keep_checkpoints, F::kInt, "checkpoints",
       "Of the periodic checkpoints, keep the newest K", "--keep-checkpoints", "K", W::kAbsent,
       kTrainSubmit, AtLeast(1), {}, {"--save_total_limit"}},
      {"export_hf_dir", &JobSpec::export_hf_dir, F::kPath, "",
       "When it succeeds, write the weights as a Hugging Face directory (config.json + "
       "safetensors)",
       "--export-hf", "DIR", W::kAsIs, kTrainSubmit, kPathCheck, {"export_hf"}},
      {"tensorboard_dir", &JobSpec::tensorboard_dir, F::kPath, "",
       "TensorBoard event files go into DIR (a service job's into DIR/<job id>), as the "
       "DeepSpeed config's tensorboard section would put them",
       "--tensorboard", "DIR", W::kAsIs, kTrainSubmit, kPathCheck, {"tensorboard"},
       {"--logging_dir"}},
      {"name", &JobSpec::name, F::kText, "", "A label for `zeroctl list`", "--name", "TEXT",
       W::kAsIs, kSubmitMode, AtMostBytes(kMaxNameBytes)},
      {"start_paused", &JobSpec::start_paused, F::kBool, "",
       "Start paused after setup: advance it with `zeroctl step`", "--paused", "", W::kAsIs,
       kSubmitMode, {}, {"paused"}},
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
  return absl::InvalidArgumentError(absl::StrCat("must be ", Expected(field), ", got \"", text, "\""));
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
  if (std::isinf(c.max)) return Invalid(field, absl::StrCat(NumberText(v), " < ", NumberText(c.min)));
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
  return absl::OkStatus();
}

}  // namespace zerod::config
