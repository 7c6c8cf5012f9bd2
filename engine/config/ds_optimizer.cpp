// optimizer and scheduler (ds_sections.h). Without an optimizer section (Hugging Face's
// Trainer brings its own) zerod runs AdamW with the Trainer's defaults; "auto" values take
// the job's flags, else those defaults.
#include <algorithm>
#include <cctype>

#include "absl/strings/str_cat.h"
#include "engine/config/ds_sections.h"
#include "engine/util/status_macros.h"

namespace zerod::config {
namespace {

// Hugging Face TrainingArguments' defaults, used for "auto" and a missing optimizer.
constexpr double kTrainerLr = 5e-5;
constexpr double kTrainerWeightDecay = 0.0;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// A config value that is not "auto" must agree with the flag the job gives for it.
absl::Status AgreesWithFlag(const JsonReader& r, const std::string& key, double value,
                            const std::optional<double>& flag, const std::string& flag_name) {
  if (!flag || !r.Has(key) || r.IsAuto(key) || value == *flag) return absl::OkStatus();
  return r.Error(key, absl::StrCat("is ", value, " but ", flag_name, " is ", *flag,
                                   ": make them agree, or write \"auto\" to take the flag's"));
}

absl::Status ParseBetas(const nlohmann::json& params, JsonReader& reader, ParseContext& ctx) {
  reader.Ignore({"betas"});
  if (!params.contains("betas") || reader.IsAuto("betas")) {
    if (reader.IsAuto("betas")) ctx.filled.push_back("optimizer.params.betas [0.9, 0.999]");
    return absl::OkStatus();
  }
  const auto& betas = params["betas"];
  if (!betas.is_array() || betas.size() != 2 || !betas[0].is_number() || !betas[1].is_number() ||
      betas[0].get<double>() < 0 || betas[0].get<double>() >= 1 || betas[1].get<double>() < 0 ||
      betas[1].get<double>() >= 1) {
    return reader.Error("betas",
                        absl::StrCat("is ", betas.dump(), "; it must be [beta1, beta2] in [0, 1)"));
  }
  ctx.out.adamw.beta1 = betas[0].get<double>();
  ctx.out.adamw.beta2 = betas[1].get<double>();
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseOptimizer(JsonReader& root, const nlohmann::json& json, ParseContext& ctx) {
  auto& h = ctx.out.adamw;
  const double job_lr = ctx.job.lr.value_or(kTrainerLr);
  if (!root.Has("optimizer")) {
    root.Ignore({"optimizer"});
    h.lr = job_lr;
    h.weight_decay = kTrainerWeightDecay;
    ctx.out.notes.push_back(absl::StrCat("no optimizer section: AdamW with lr ", h.lr, ", betas [",
                                         h.beta1, ", ", h.beta2, "], eps ", h.eps,
                                         ", weight_decay ", h.weight_decay,
                                         " (Hugging Face Trainer's defaults"
                                         ", lr from --lr when given)"));
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(auto opt, root.Object("optimizer"));
  ASSIGN_OR_RETURN(std::string type, opt.String("type", "AdamW"));
  ASSIGN_OR_RETURN(auto params, opt.Object("params"));
  const std::string kind = Lower(type);
  if (kind != "adamw" && kind != "adam") {
    return opt.Error("type", absl::StrCat("is \"", type,
                                          "\"; zerod implements \"AdamW\" (and \"Adam\" with "
                                          "adam_w_mode) only: use \"AdamW\""));
  }
  ASSIGN_OR_RETURN(bool adam_w_mode, params.Bool("adam_w_mode", true));
  if (!adam_w_mode) {
    return params.Error("adam_w_mode",
                        "is false (L2-regularised Adam); zerod implements AdamW only");
  }
  ASSIGN_OR_RETURN(bool amsgrad, params.Bool("amsgrad", false));
  if (amsgrad) return params.Error("amsgrad", "is true; zerod implements AdamW without it");
  ASSIGN_OR_RETURN(bool bias_correction, params.Bool("bias_correction", true));
  if (!bias_correction) {
    return params.Error("bias_correction", "is false; zerod's AdamW always corrects the bias");
  }
  ASSIGN_OR_RETURN(h.lr, params.Number("lr", ctx.AutoOr(params, "lr", job_lr, 1e-3), 0.0));
  RETURN_IF_ERROR(AgreesWithFlag(params, "lr", h.lr, ctx.job.lr, "--lr"));
  ASSIGN_OR_RETURN(h.eps, params.Number("eps", ctx.AutoOr(params, "eps", 1e-8, 1e-8), 0.0));
  ASSIGN_OR_RETURN(h.weight_decay,
                   params.Number("weight_decay",
                                 ctx.AutoOr(params, "weight_decay", kTrainerWeightDecay,
                                            kind == "adamw" ? 0.01 : 0.0),
                                 0.0));
  const nlohmann::json& params_json = json["optimizer"].value("params", nlohmann::json::object());
  RETURN_IF_ERROR(ParseBetas(params_json, params, ctx));
  // Implementation choices of DeepSpeed (which kernel runs Adam): same arithmetic.
  params.Ignore({"torch_adam", "fused", "foreach", "capturable", "maximize"});
  RETURN_IF_ERROR(params.CheckUnknown(ctx.out.notes));
  return opt.CheckUnknown(ctx.out.notes);
}

absl::Status ParseScheduler(JsonReader& root, ParseContext& ctx) {
  auto& s = ctx.out.scheduler;
  s.lr = ctx.out.adamw.lr;
  if (!root.Has("scheduler")) {
    root.Ignore({"scheduler"});
    s.type = optim::LrScheduleConfig::Type::kConstant;
    if (ctx.job.warmup_steps.value_or(0) > 0) {  // --warmup-steps without a scheduler
      s.type = optim::LrScheduleConfig::Type::kWarmupLR;
      s.warmup_min_lr = 0.0;
      s.warmup_max_lr = s.lr;
      s.warmup_num_steps = *ctx.job.warmup_steps;
      s.warmup_log = false;
    }
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(auto sched, root.Object("scheduler"));
  ASSIGN_OR_RETURN(std::string type, sched.String("type", ""));
  ASSIGN_OR_RETURN(auto params, sched.Object("params"));
  using Type = optim::LrScheduleConfig::Type;
  if (type == "WarmupLR") {
    s.type = Type::kWarmupLR;
  } else if (type == "WarmupDecayLR") {
    s.type = Type::kWarmupDecayLR;
  } else if (type == "WarmupCosineLR") {
    s.type = Type::kWarmupCosineLR;
  } else {
    return sched.Error("type", absl::StrCat("is \"", type,
                                            "\"; zerod implements \"WarmupLR\", \"WarmupDecayLR\" "
                                            "and \"WarmupCosineLR\": use one of them"));
  }
  const int64_t warmup = ctx.job.warmup_steps.value_or(0);
  ASSIGN_OR_RETURN(s.warmup_num_steps,
                   params.Int("warmup_num_steps",
                              ctx.AutoOr(params, "warmup_num_steps", warmup, int64_t{1000}), 0));
  if (ctx.job.warmup_steps) {
    RETURN_IF_ERROR(AgreesWithFlag(params, "warmup_num_steps",
                                   static_cast<double>(s.warmup_num_steps),
                                   static_cast<double>(*ctx.job.warmup_steps), "--warmup-steps"));
  }
  ASSIGN_OR_RETURN(std::string warmup_type, params.String("warmup_type", "log"));
  if (warmup_type != "log" && warmup_type != "linear") {
    return params.Error("warmup_type",
                        absl::StrCat("is \"", warmup_type, "\"; use \"log\" or \"linear\""));
  }
  s.warmup_log = warmup_type == "log";
  if (s.type != Type::kWarmupLR) {
    ASSIGN_OR_RETURN(
        s.total_num_steps,
        params.Int("total_num_steps",
                   ctx.AutoOr(params, "total_num_steps", ctx.job.total_steps, int64_t{0}), 0));
    if (s.total_num_steps <= 0) {
      return params.Error(
          "total_num_steps",
          absl::StrCat("is required by ", type,
                       " (the step where the decay ends), or \"auto\" for --steps"));
    }
  }
  if (s.type == Type::kWarmupCosineLR) {
    // Ratios of the optimizer's lr, not rates.
    ASSIGN_OR_RETURN(s.warmup_min_ratio, params.Number("warmup_min_ratio", 0.0, 0.0, 1.0));
    ASSIGN_OR_RETURN(s.cos_min_ratio, params.Number("cos_min_ratio", 0.0001, 0.0, 1.0));
  } else {
    ASSIGN_OR_RETURN(
        s.warmup_min_lr,
        params.Number("warmup_min_lr", ctx.AutoOr(params, "warmup_min_lr", 0.0, 0.0), 0.0));
    ASSIGN_OR_RETURN(s.warmup_max_lr, params.Number("warmup_max_lr",
                                                    ctx.AutoOr(params, "warmup_max_lr",
                                                               ctx.out.adamw.lr, ctx.out.adamw.lr),
                                                    0.0));
  }
  params.Ignore({"last_batch_iteration"});
  RETURN_IF_ERROR(params.CheckUnknown(ctx.out.notes));
  return sched.CheckUnknown(ctx.out.notes);
}

}  // namespace zerod::config
