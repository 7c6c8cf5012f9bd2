#include "engine/config/ds_config.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/config/ds_sections.h"
#include "engine/config/json_reader.h"
#include "engine/util/files.h"
#include "engine/util/status_macros.h"

namespace zerod::config {
namespace {

absl::Status ParsePrecision(JsonReader& root, ParseContext& ctx) {
  DsConfig& out = ctx.out;
  const JobValues& job = ctx.job;
  ASSIGN_OR_RETURN(auto fp16, root.Object("fp16"));
  ASSIGN_OR_RETURN(auto bf16, root.Object("bf16"));
  const bool fp16_auto = fp16.IsAuto("enabled"), bf16_auto = bf16.IsAuto("enabled");
  const bool said = (fp16.Has("enabled") && !fp16_auto) || (bf16.Has("enabled") && !bf16_auto);
  ASSIGN_OR_RETURN(bool fp16_on, fp16.Bool("enabled", false));
  ASSIGN_OR_RETURN(bool bf16_on, bf16.Bool("enabled", false));
  if (fp16_on && bf16_on) {
    return fp16.Error("enabled", "and bf16.enabled are both true; enable at most one");
  }
  if (root.Has("amp"))
    return root.Error("amp", "(NVIDIA apex AMP) is not supported; use \"fp16\" or \"bf16\"");
  out.compute_dtype = fp16_on ? DType::kFloat16 : bf16_on ? DType::kBFloat16 : DType::kFloat32;
  // "auto" (neither switched on by the config) is the job's precision: --precision, else
  // bf16 on a GPU that has it and float32 on the CPU. A config silent on both takes
  // --precision too.
  const DType job_dtype = job.precision.value_or(job.default_precision);
  if (!fp16_on && !bf16_on && (fp16_auto || bf16_auto)) {
    out.compute_dtype = job_dtype;
    ctx.filled.push_back(absl::StrCat("precision ", DTypeName(job_dtype)));
  } else if (!said && job.precision) {
    out.compute_dtype = *job.precision;
  }
  if (job.precision && out.compute_dtype != *job.precision) {
    return (fp16_on ? fp16 : bf16)
        .Error("enabled",
               absl::StrCat("asks for ", DTypeName(out.compute_dtype), " but --precision is ",
                            DTypeName(*job.precision), ": make them agree, or write \"auto\""));
  }
  const bool fp16_used = out.compute_dtype == DType::kFloat16;

  auto& ls = out.loss_scaler;
  ASSIGN_OR_RETURN(double loss_scale, fp16.Number("loss_scale", 0.0, 0.0));
  ls.dynamic = fp16_used && loss_scale == 0.0;
  ls.static_scale = fp16_used && loss_scale > 0.0 ? loss_scale : 1.0;
  ASSIGN_OR_RETURN(int64_t power, fp16.Int("initial_scale_power", 16, 0, 64));
  ls.initial_scale_power = static_cast<int>(power);
  ASSIGN_OR_RETURN(ls.window, fp16.Int("loss_scale_window", 1000, 1));
  ASSIGN_OR_RETURN(int64_t hysteresis, fp16.Int("hysteresis", 2, 1, 1000));
  ls.hysteresis = static_cast<int>(hysteresis);
  ASSIGN_OR_RETURN(ls.consecutive_hysteresis, fp16.Bool("consecutive_hysteresis", false));
  ASSIGN_OR_RETURN(ls.min_scale, fp16.Number("min_loss_scale", 1.0, 1e-30));
  ASSIGN_OR_RETURN(bool auto_cast, fp16.Bool("auto_cast", false));
  if (auto_cast) return fp16.Error("auto_cast", "is true; zerod casts the model itself: remove it");
  ASSIGN_OR_RETURN(bool fp16_master, fp16.Bool("fp16_master_weights_and_grads", false));
  if (fp16_master) {
    return fp16.Error("fp16_master_weights_and_grads",
                      "is true; zerod keeps float32 master weights: remove it");
  }
  RETURN_IF_ERROR(fp16.CheckUnknown(out.notes));
  ASSIGN_OR_RETURN(bool bf16_master, bf16.Bool("bf16_master_weights_and_grads", false));
  if (bf16_master) {
    return bf16.Error("bf16_master_weights_and_grads",
                      "is true; zerod keeps float32 master weights: remove it");
  }
  bf16.Ignore({"immediate_grad_update", "check_grad_overflow", "bf16_optimizer_states"});
  return bf16.CheckUnknown(out.notes);
}

// A batch key given in the config must agree with the job's flag for it.
absl::Status BatchAgrees(const JsonReader& root, const std::string& key, int64_t value,
                         const std::optional<int64_t>& flag, const std::string& flag_name) {
  if (!flag || !root.Has(key) || root.IsAuto(key) || value == *flag) return absl::OkStatus();
  return root.Error(key, absl::StrCat("is ", value, " but ", flag_name, " is ", *flag,
                                      ": make them agree, or write \"auto\" to take the flag's"));
}

// DeepSpeed's batch rule: train_batch_size = micro * grad_accum * world; any two
// given determine the third. "auto" (or absent) micro-batch and accumulation take the
// job's flags. The error prints the failing arithmetic.
absl::Status ResolveBatch(JsonReader& root, int world_size, ParseContext& ctx) {
  const JobValues& job = ctx.job;
  const bool tbs_auto = root.IsAuto("train_batch_size");
  const bool micro_auto = root.IsAuto("train_micro_batch_size_per_gpu");
  const bool gas_auto = root.IsAuto("gradient_accumulation_steps");
  // Bounds far past any real batch keep the products below in range.
  constexpr int64_t kMaxBatch = int64_t{1} << 40, kMaxTerm = int64_t{1} << 20;
  ASSIGN_OR_RETURN(int64_t tbs, root.Int("train_batch_size", 0, 1, kMaxBatch));
  ASSIGN_OR_RETURN(int64_t micro, root.Int("train_micro_batch_size_per_gpu",
                                           job.micro_batch.value_or(0), 1, kMaxTerm));
  ASSIGN_OR_RETURN(int64_t gas, root.Int("gradient_accumulation_steps", job.grad_accum.value_or(0),
                                         1, kMaxTerm));
  if (micro > kMaxTerm || gas > kMaxTerm) {
    return root.Error("train_micro_batch_size_per_gpu",
                      absl::StrCat("or gradient_accumulation_steps from the job's flags (", micro,
                                   ", ", gas, ") is larger than ", kMaxTerm));
  }
  if (world_size < 1 || world_size > kMaxTerm) {
    return root.Error("train_batch_size",
                      absl::StrCat("cannot be planned for world size ", world_size));
  }
  RETURN_IF_ERROR(BatchAgrees(root, "train_micro_batch_size_per_gpu", micro, job.micro_batch,
                              "--micro-batch-size"));
  RETURN_IF_ERROR(
      BatchAgrees(root, "gradient_accumulation_steps", gas, job.grad_accum, "--grad-accum"));
  // All "auto" and no flag: Hugging Face Trainer's per-device batch.
  if (micro_auto && micro == 0 && tbs == 0) micro = 8;
  const int64_t w = world_size;
  if (tbs && micro && gas) {
    if (tbs != micro * gas * w) {
      return root.Error("train_batch_size",
                        absl::StrCat(tbs, " != train_micro_batch_size_per_gpu ", micro,
                                     " * gradient_accumulation_steps ", gas, " * world size ", w,
                                     " = ", micro * gas * w, "; fix one of the three"));
    }
  } else if (tbs && micro) {
    if (tbs % (micro * w) != 0) {
      return root.Error("train_batch_size",
                        absl::StrCat(tbs, " is not divisible by train_micro_batch_size_per_gpu ",
                                     micro, " * world size ", w, " = ", micro * w));
    }
    gas = tbs / (micro * w);
  } else if (tbs && gas) {
    if (tbs % (gas * w) != 0) {
      return root.Error("train_batch_size",
                        absl::StrCat(tbs, " is not divisible by gradient_accumulation_steps ", gas,
                                     " * world size ", w, " = ", gas * w));
    }
    micro = tbs / (gas * w);
  } else if (tbs) {
    if (tbs % w != 0) {
      return root.Error("train_batch_size",
                        absl::StrCat(tbs, " is not divisible by world size ", w));
    }
    gas = 1;
    micro = tbs / w;
  } else if (micro) {
    gas = gas ? gas : 1;
    tbs = micro * gas * w;
  } else {
    return root.Error("train_batch_size",
                      "is missing; set train_batch_size or train_micro_batch_size_per_gpu (or "
                      "write \"auto\" and give --micro-batch-size)");
  }
  DsConfig& out = ctx.out;
  out.train_batch_size = tbs;
  out.micro_batch_per_gpu = micro;
  out.gradient_accumulation_steps = gas;
  if (micro_auto) ctx.filled.push_back(absl::StrCat("train_micro_batch_size_per_gpu ", micro));
  if (gas_auto) ctx.filled.push_back(absl::StrCat("gradient_accumulation_steps ", gas));
  if (tbs_auto) ctx.filled.push_back(absl::StrCat("train_batch_size ", tbs));
  return absl::OkStatus();
}

// "line L, column C" of the 1-based byte offset `byte` in `text` (nlohmann's position: the
// byte after the last one read).
std::string TextPosition(const std::string& text, size_t byte) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i + 1 < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return absl::StrCat("line ", line, ", column ", column);
}

// nlohmann's message without its "[json.exception.parse_error.101] parse error at line 1,
// column 2: " prefix (we say the position ourselves).
std::string ParseErrorWhat(const std::string& what) {
  const size_t colon = what.find(": ");
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

}  // namespace

double ParseContext::AutoOr(const JsonReader& reader, const std::string& key, double job_value,
                            double ds_default) {
  if (!reader.IsAuto(key)) return ds_default;
  filled.push_back(absl::StrCat(reader.PathOf(key), " ", job_value));
  return job_value;
}

int64_t ParseContext::AutoOr(const JsonReader& reader, const std::string& key, int64_t job_value,
                             int64_t ds_default) {
  if (!reader.IsAuto(key)) return ds_default;
  filled.push_back(absl::StrCat(reader.PathOf(key), " ", job_value));
  return job_value;
}

absl::StatusOr<DsConfig> ParseDsConfig(const std::string& text, int world_size,
                                       const std::string& source, const JobValues& job) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/true,
                                 /*ignore_comments=*/true);
  } catch (const nlohmann::json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON at ",
                                                   TextPosition(text, e.byte), ": ",
                                                   ParseErrorWhat(e.what())));
  } catch (const nlohmann::json::exception& e) {  // a number too large for a double, ...
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": not readable JSON: ", ParseErrorWhat(e.what())));
  }
  if (!json.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the top level must be a JSON object"));
  }
  DsConfig out;
  ParseContext ctx{job, out, {}};
  JsonReader root(json, source);
  RETURN_IF_ERROR(ResolveBatch(root, world_size, ctx));
  // "auto": Hugging Face Trainer's max_grad_norm, 1.0.
  ASSIGN_OR_RETURN(
      out.gradient_clipping,
      root.Number("gradient_clipping", ctx.AutoOr(root, "gradient_clipping", 1.0, 0.0), 0.0));
  RETURN_IF_ERROR(ParsePrecision(root, ctx));
  RETURN_IF_ERROR(ParseOptimizer(root, json, ctx));
  RETURN_IF_ERROR(ParseScheduler(root, ctx));
  if (!root.Has("zero_optimization")) {
    return root.Error("zero_optimization", "is missing; zerod needs {\"stage\": 3, ...}");
  }
  ASSIGN_OR_RETURN(auto zero, root.Object("zero_optimization"));
  RETURN_IF_ERROR(ParseZero(zero, ctx));
  ASSIGN_OR_RETURN(out.steps_per_print, root.Int("steps_per_print", 10, 1));
  RETURN_IF_ERROR(ParseExtras(root, ctx));
  RETURN_IF_ERROR(root.CheckUnknown(out.notes));
  if (!ctx.filled.empty()) {
    out.notes.push_back(
        absl::StrCat(source, ": \"auto\" filled from the job: ", absl::StrJoin(ctx.filled, ", ")));
  }
  return out;
}

absl::StatusOr<DsConfig> LoadDsConfig(const std::string& path, int world_size,
                                      const JobValues& job) {
  const std::optional<std::string> text = ReadFileToString(path);
  if (!text) {
    return absl::NotFoundError(absl::StrCat("DeepSpeed config ", path,
                                            " cannot be read; pass an existing --ds-config file"));
  }
  return ParseDsConfig(*text, world_size, path, job);
}

}  // namespace zerod::config
