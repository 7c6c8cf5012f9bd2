#include "engine/config/ds_config.h"

#include "absl/strings/str_cat.h"
#include "engine/config/json_reader.h"
#include "engine/util/files.h"
#include "engine/util/status_macros.h"

namespace zerod::config {
namespace {

absl::StatusOr<OffloadConfig> ParseOffload(JsonReader section, bool optimizer) {
  OffloadConfig out;
  ASSIGN_OR_RETURN(std::string device, section.String("device", "none"));
  if (section.IsAuto("device")) device = "auto";
  if (device == "nvme") {
    return section.Error("device", "is \"nvme\"; zerod offloads to \"cpu\" only (or \"none\")");
  }
  if (device != "cpu" && device != "none" && device != "auto") {
    return section.Error("device",
                         absl::StrCat("is \"", device, "\"; use \"cpu\", \"none\" or \"auto\""));
  }
  out.device = device == "cpu"    ? OffloadDevice::kCpu
               : device == "auto" ? OffloadDevice::kAuto
                                  : OffloadDevice::kNone;
  ASSIGN_OR_RETURN(out.pin_memory, section.Bool("pin_memory", false));
  if (optimizer) {
    // DeepSpeed's ratio: the share of optimizer state on the CPU (ZeRO-Offload++).
    ASSIGN_OR_RETURN(double ratio, section.Number("ratio", 1.0, 0.0, 1.0));
    out.ratio = ratio;
    if (section.IsAuto("ratio") || out.device == OffloadDevice::kAuto) out.ratio.reset();
    if (out.device == OffloadDevice::kNone) out.ratio = 0.0;
  } else if (section.Has("ratio")) {
    return section.Error("ratio",
                         "belongs to offload_optimizer (the share of optimizer state "
                         "on the CPU); remove it here");
  }
  // Tuning knobs of DeepSpeed's own buffers; zerod sizes its pools itself.
  section.Ignore({"buffer_count", "buffer_size", "max_in_cpu", "fast_init", "pipeline_read",
                  "pipeline_write", "nvme_path", "pipeline"});
  RETURN_IF_ERROR(section.RejectUnknown());
  return out;
}

absl::StatusOr<ZeroConfig> ParseZero(JsonReader z) {
  ZeroConfig out;
  ASSIGN_OR_RETURN(int64_t stage, z.Int("stage", 3));
  if (stage != 3) {
    return z.Error("stage", absl::StrCat("is ", stage,
                                         "; zerod implements ZeRO stage 3 only: set \"stage\": 3"));
  }
  ASSIGN_OR_RETURN(auto param_section, z.Object("offload_param"));
  ASSIGN_OR_RETURN(out.offload_param, ParseOffload(param_section, /*optimizer=*/false));
  ASSIGN_OR_RETURN(auto optim_section, z.Object("offload_optimizer"));
  ASSIGN_OR_RETURN(out.offload_optimizer, ParseOffload(optim_section, /*optimizer=*/true));
  ASSIGN_OR_RETURN(out.overlap_comm, z.Bool("overlap_comm", true));
  ASSIGN_OR_RETURN(out.overlap_optimizer, z.Bool("zerod_overlap_optimizer", true));
  ASSIGN_OR_RETURN(out.prefetch_bucket_size,
                   z.Int("stage3_prefetch_bucket_size", out.prefetch_bucket_size, 0));
  ASSIGN_OR_RETURN(out.param_persistence_threshold,
                   z.Int("stage3_param_persistence_threshold", out.param_persistence_threshold, 0));
  ASSIGN_OR_RETURN(out.max_live_parameters,
                   z.Int("stage3_max_live_parameters", out.max_live_parameters, 1));
  ASSIGN_OR_RETURN(out.reduce_bucket_size, z.Int("reduce_bucket_size", out.reduce_bucket_size, 1));
  ASSIGN_OR_RETURN(bool gather16, z.Bool("stage3_gather_16bit_weights_on_model_save", true));
  ASSIGN_OR_RETURN(bool gather_fp16, z.Bool("stage3_gather_fp16_weights_on_model_save", gather16));
  out.gather_16bit_weights_on_model_save = gather16 && gather_fp16;
  // Layout and bucketing knobs of DeepSpeed's implementation that do not change the
  // result; zerod always reduce-scatters contiguous per-unit gradients.
  z.Ignore({"contiguous_gradients", "sub_group_size", "stage3_max_reuse_distance",
            "allgather_partitions", "allgather_bucket_size", "reduce_scatter",
            "round_robin_gradients", "memory_efficient_linear", "elastic_checkpoint",
            "load_from_fp32_weights", "ignore_unused_parameters"});
  RETURN_IF_ERROR(z.RejectUnknown());
  return out;
}

absl::Status ParsePrecision(JsonReader& root, DsConfig& out) {
  ASSIGN_OR_RETURN(auto fp16, root.Object("fp16"));
  ASSIGN_OR_RETURN(bool fp16_on, fp16.Bool("enabled", false));
  ASSIGN_OR_RETURN(auto bf16, root.Object("bf16"));
  ASSIGN_OR_RETURN(bool bf16_on, bf16.Bool("enabled", false));
  if (fp16_on && bf16_on) {
    return fp16.Error("enabled", "and bf16.enabled are both true; enable at most one");
  }
  if (root.Has("amp"))
    return root.Error("amp", "(NVIDIA apex AMP) is not supported; use \"fp16\" or \"bf16\"");
  out.compute_dtype = fp16_on ? DType::kFloat16 : bf16_on ? DType::kBFloat16 : DType::kFloat32;

  auto& ls = out.loss_scaler;
  ASSIGN_OR_RETURN(double loss_scale, fp16.Number("loss_scale", 0.0, 0.0));
  ls.dynamic = fp16_on && loss_scale == 0.0;
  ls.static_scale = fp16_on && loss_scale > 0.0 ? loss_scale : 1.0;
  ASSIGN_OR_RETURN(int64_t power, fp16.Int("initial_scale_power", 16, 0, 64));
  ls.initial_scale_power = static_cast<int>(power);
  ASSIGN_OR_RETURN(ls.window, fp16.Int("loss_scale_window", 1000, 1));
  ASSIGN_OR_RETURN(int64_t hysteresis, fp16.Int("hysteresis", 2, 1, 1000));
  ls.hysteresis = static_cast<int>(hysteresis);
  ASSIGN_OR_RETURN(ls.consecutive_hysteresis, fp16.Bool("consecutive_hysteresis", false));
  ASSIGN_OR_RETURN(ls.min_scale, fp16.Number("min_loss_scale", 1.0, 1e-30));
  ASSIGN_OR_RETURN(bool auto_cast, fp16.Bool("auto_cast", false));
  if (auto_cast) return fp16.Error("auto_cast", "is true; zerod casts the model itself: remove it");
  fp16.Ignore({"fp16_master_weights_and_grads"});
  RETURN_IF_ERROR(fp16.RejectUnknown());
  bf16.Ignore({"immediate_grad_update", "check_grad_overflow"});
  return bf16.RejectUnknown();
}

absl::Status ParseOptimizer(JsonReader& root, DsConfig& out) {
  ASSIGN_OR_RETURN(auto opt, root.Object("optimizer"));
  ASSIGN_OR_RETURN(std::string type, opt.String("type", "AdamW"));
  ASSIGN_OR_RETURN(auto params, opt.Object("params"));
  if (type != "AdamW" && type != "Adam") {
    return opt.Error("type",
                     absl::StrCat("is \"", type, "\"; zerod implements \"AdamW\" (and \"Adam\" ",
                                  "with adam_w_mode) only"));
  }
  ASSIGN_OR_RETURN(bool adam_w_mode, params.Bool("adam_w_mode", true));
  if (!adam_w_mode) {
    return params.Error("adam_w_mode",
                        "is false (L2-regularised Adam); zerod implements AdamW only");
  }
  auto& h = out.adamw;
  ASSIGN_OR_RETURN(h.lr, params.Number("lr", 1e-3, 0.0));
  ASSIGN_OR_RETURN(h.eps, params.Number("eps", 1e-8, 0.0));
  ASSIGN_OR_RETURN(h.weight_decay,
                   params.Number("weight_decay", type == "AdamW" ? 0.01 : 0.0, 0.0));
  if (params.Has("betas")) {
    params.Ignore({"betas"});
    // Read by hand: a two-element array.
  }
  params.Ignore({"torch_adam", "fused", "amsgrad"});
  RETURN_IF_ERROR(params.RejectUnknown());
  RETURN_IF_ERROR(opt.RejectUnknown());
  return absl::OkStatus();
}

absl::Status ParseBetas(const nlohmann::json& json, const std::string& source, DsConfig& out) {
  if (!json.contains("optimizer") || !json["optimizer"].is_object()) return absl::OkStatus();
  const auto& params = json["optimizer"].value("params", nlohmann::json::object());
  if (!params.is_object() || !params.contains("betas")) return absl::OkStatus();
  const auto& betas = params["betas"];
  if (!betas.is_array() || betas.size() != 2 || !betas[0].is_number() || !betas[1].is_number() ||
      betas[0].get<double>() < 0 || betas[0].get<double>() >= 1 || betas[1].get<double>() < 0 ||
      betas[1].get<double>() >= 1) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": optimizer.params.betas is ",
                                                   betas.dump(),
                                                   "; it must be [beta1, beta2] in [0, 1)"));
  }
  out.adamw.beta1 = betas[0].get<double>();
  out.adamw.beta2 = betas[1].get<double>();
  return absl::OkStatus();
}

absl::Status ParseScheduler(JsonReader& root, DsConfig& out) {
  auto& s = out.scheduler;
  s.lr = out.adamw.lr;
  if (!root.Has("scheduler")) {
    s.type = optim::LrScheduleConfig::Type::kConstant;
    root.Ignore({"scheduler"});
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(auto sched, root.Object("scheduler"));
  ASSIGN_OR_RETURN(std::string type, sched.String("type", ""));
  ASSIGN_OR_RETURN(auto params, sched.Object("params"));
  if (type == "WarmupLR") {
    s.type = optim::LrScheduleConfig::Type::kWarmupLR;
  } else if (type == "WarmupDecayLR") {
    s.type = optim::LrScheduleConfig::Type::kWarmupDecayLR;
    ASSIGN_OR_RETURN(s.total_num_steps, params.Int("total_num_steps", 0, 1));
    if (s.total_num_steps <= 0) {
      return params.Error("total_num_steps",
                          "is required by WarmupDecayLR (the step where lr reaches 0)");
    }
  } else {
    return sched.Error(
        "type",
        absl::StrCat("is \"", type, "\"; zerod implements \"WarmupLR\" and \"WarmupDecayLR\""));
  }
  ASSIGN_OR_RETURN(s.warmup_min_lr, params.Number("warmup_min_lr", 0.0, 0.0));
  ASSIGN_OR_RETURN(s.warmup_max_lr, params.Number("warmup_max_lr", out.adamw.lr, 0.0));
  ASSIGN_OR_RETURN(s.warmup_num_steps, params.Int("warmup_num_steps", 1000, 0));
  ASSIGN_OR_RETURN(std::string warmup_type, params.String("warmup_type", "log"));
  if (warmup_type != "log" && warmup_type != "linear") {
    return params.Error("warmup_type",
                        absl::StrCat("is \"", warmup_type, "\"; use \"log\" or \"linear\""));
  }
  s.warmup_log = warmup_type == "log";
  params.Ignore({"last_batch_iteration"});
  RETURN_IF_ERROR(params.RejectUnknown());
  return sched.RejectUnknown();
}

// DeepSpeed's batch rule: train_batch_size = micro * grad_accum * world; any two
// given determine the third. The error prints the failing arithmetic.
absl::Status ResolveBatch(JsonReader& root, int world_size, DsConfig& out) {
  ASSIGN_OR_RETURN(int64_t tbs, root.Int("train_batch_size", 0, 1));
  ASSIGN_OR_RETURN(int64_t micro, root.Int("train_micro_batch_size_per_gpu", 0, 1));
  ASSIGN_OR_RETURN(int64_t gas, root.Int("gradient_accumulation_steps", 0, 1));
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
                      "is missing; set train_batch_size or train_micro_batch_size_per_gpu");
  }
  out.train_batch_size = tbs;
  out.micro_batch_per_gpu = micro;
  out.gradient_accumulation_steps = gas;
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

absl::StatusOr<DsConfig> ParseDsConfig(const std::string& text, int world_size,
                                       const std::string& source) {
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/true,
                                 /*ignore_comments=*/true);
  } catch (const nlohmann::json::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": not valid JSON at ",
                                                   TextPosition(text, e.byte), ": ",
                                                   ParseErrorWhat(e.what())));
  }
  if (!json.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": the top level must be a JSON object"));
  }
  DsConfig out;
  JsonReader root(json, source);
  RETURN_IF_ERROR(ResolveBatch(root, world_size, out));
  ASSIGN_OR_RETURN(out.gradient_clipping, root.Number("gradient_clipping", 0.0, 0.0));
  RETURN_IF_ERROR(ParsePrecision(root, out));
  RETURN_IF_ERROR(ParseOptimizer(root, out));
  RETURN_IF_ERROR(ParseBetas(json, source, out));
  RETURN_IF_ERROR(ParseScheduler(root, out));
  ASSIGN_OR_RETURN(auto zero, root.Object("zero_optimization"));
  if (!root.Has("zero_optimization")) {
    return root.Error("zero_optimization", "is missing; zerod needs {\"stage\": 3, ...}");
  }
  ASSIGN_OR_RETURN(out.zero, ParseZero(zero));
  ASSIGN_OR_RETURN(out.steps_per_print, root.Int("steps_per_print", 10, 1));
  // Reporting switches that do not change training.
  root.Ignore({"wall_clock_breakdown", "zero_allow_untested_optimizer", "prescale_gradients",
               "gradient_predivide_factor", "dump_state", "flops_profiler", "comms_logger",
               "tensorboard", "wandb", "csv_monitor", "memory_breakdown",
               "activation_checkpointing"});
  RETURN_IF_ERROR(root.RejectUnknown());
  return out;
}

absl::StatusOr<DsConfig> LoadDsConfig(const std::string& path, int world_size) {
  const std::optional<std::string> text = ReadFileToString(path);
  if (!text) {
    return absl::NotFoundError(absl::StrCat("DeepSpeed config ", path,
                                            " cannot be read; pass an existing --ds-config file"));
  }
  return ParseDsConfig(*text, world_size, path);
}

}  // namespace zerod::config
