// zero_optimization and its offload sections (ds_sections.h).
#include "absl/strings/str_cat.h"
#include "engine/config/ds_sections.h"
#include "engine/util/status_macros.h"

namespace zerod::config {
namespace {

absl::StatusOr<OffloadConfig> ParseOffload(JsonReader section, bool optimizer,
                                           std::vector<std::string>& notes) {
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
  // Tuning knobs of DeepSpeed's own buffers and NVMe pipeline; zerod sizes its pools
  // itself (the placement plan) and offloads to host memory only.
  section.Ignore({"buffer_count", "buffer_size", "max_in_cpu", "fast_init", "pipeline_read",
                  "pipeline_write", "nvme_path", "pipeline"});
  RETURN_IF_ERROR(section.CheckUnknown(notes));
  return out;
}

// A size whose DeepSpeed default turns the feature off (hpZ: 1, MiCS: -1); above `limit`
// it changes the sharding scheme, which zerod does not implement.
absl::Status RefuseIfAbove(JsonReader& z, const std::string& key, double limit,
                           const std::string& instead) {
  ASSIGN_OR_RETURN(double value, z.Number(key, limit));
  return value > limit ? z.Error(key, absl::StrCat("is ", value, "; ", instead)) : absl::OkStatus();
}

// A switch whose DeepSpeed default is off; turned on it changes the arithmetic.
absl::Status RefuseIfTrue(JsonReader& z, const std::string& key, const std::string& instead) {
  ASSIGN_OR_RETURN(bool on, z.Bool(key, false));
  return on ? z.Error(key, absl::StrCat("is true; ", instead)) : absl::OkStatus();
}

// `key`, or DeepSpeed's other name for it (`alias`) when only that is given.
absl::StatusOr<int64_t> IntOrAlias(JsonReader& z, const std::string& key, const std::string& alias,
                                   int64_t def, int64_t min) {
  z.Ignore({alias.c_str()});
  if (!z.Has(key) && z.Has(alias)) return z.Int(alias, def, min);
  z.Ignore({key.c_str()});
  return z.Int(key, def, min);
}

}  // namespace

absl::Status ParseZero(JsonReader z, ParseContext& ctx) {
  ZeroConfig& out = ctx.out.zero;
  auto& notes = ctx.out.notes;
  ASSIGN_OR_RETURN(int64_t stage, z.Int("stage", 3));
  if (stage != 3) {
    return z.Error("stage", absl::StrCat("is ", stage,
                                         "; zerod implements ZeRO stage 3 only: set \"stage\": 3"));
  }
  ASSIGN_OR_RETURN(auto param_section, z.Object("offload_param"));
  ASSIGN_OR_RETURN(out.offload_param, ParseOffload(param_section, /*optimizer=*/false, notes));
  ASSIGN_OR_RETURN(auto optim_section, z.Object("offload_optimizer"));
  ASSIGN_OR_RETURN(out.offload_optimizer, ParseOffload(optim_section, /*optimizer=*/true, notes));
  ASSIGN_OR_RETURN(out.overlap_comm, z.Bool("overlap_comm", true));
  ASSIGN_OR_RETURN(out.overlap_optimizer, z.Bool("zerod_overlap_optimizer", true));
  ASSIGN_OR_RETURN(out.speculative_update, z.Bool("zerod_speculative_update", false));
  ASSIGN_OR_RETURN(out.early_update, z.Bool("zerod_early_update", true));
  ASSIGN_OR_RETURN(out.derived_weights, z.Bool("zerod_derived_weights", true));
  if (!z.IsAuto("zerod_derived_host_weights") && z.Has("zerod_derived_host_weights")) {
    ASSIGN_OR_RETURN(out.derived_host_weights, z.Bool("zerod_derived_host_weights", false));
  } else {
    z.Ignore({"zerod_derived_host_weights"});
  }
  ASSIGN_OR_RETURN(out.delayed_update, z.Bool("zerod_delayed_update", false));
  ASSIGN_OR_RETURN(out.delayed_update_warmup_steps,
                   z.Int("zerod_delayed_update_warmup_steps", out.delayed_update_warmup_steps, 0));
  if (out.delayed_update && !out.overlap_optimizer) {
    return z.Error("zerod_delayed_update",
                   "is true with \"zerod_overlap_optimizer\": false; the delayed update is the "
                   "overlapped one made a step late: remove one of the two");
  }
  if (out.delayed_update && out.derived_host_weights == true) {
    return z.Error("zerod_delayed_update",
                   "is true with \"zerod_derived_host_weights\": true; the delayed update keeps "
                   "each host shard a step behind its master, so the shard cannot be made from "
                   "the master: remove one of the two");
  }
  if (out.delayed_update && out.speculative_update) {
    return z.Error("zerod_delayed_update",
                   "is true with \"zerod_speculative_update\": true; a delayed update needs no "
                   "speculation (it never waits for the step's decision): remove one of the two");
  }
  if (out.delayed_update) {
    notes.push_back(absl::StrCat(
        "zerod_delayed_update: after ", out.delayed_update_warmup_steps,
        " exact steps, units updated on the CPU apply each update one step late; this "
        "changes the math (each step's forward and backward see them as they were before "
        "the last update)"));
  }
  // "auto" sizes as Hugging Face's Trainer fills them from the model's hidden size.
  const int64_t h = ctx.job.hidden_size;
  ASSIGN_OR_RETURN(
      out.prefetch_bucket_size,
      IntOrAlias(z, "stage3_prefetch_bucket_size", "prefetch_bucket_size",
                 ctx.AutoOr(z, "stage3_prefetch_bucket_size",
                            h > 0 ? static_cast<int64_t>(0.9 * static_cast<double>(h * h))
                                  : out.prefetch_bucket_size,
                            out.prefetch_bucket_size),
                 0));
  ASSIGN_OR_RETURN(
      out.param_persistence_threshold,
      IntOrAlias(z, "stage3_param_persistence_threshold", "param_persistence_threshold",
                 ctx.AutoOr(z, "stage3_param_persistence_threshold",
                            h > 0 ? 10 * h : out.param_persistence_threshold,
                            out.param_persistence_threshold),
                 0));
  ASSIGN_OR_RETURN(out.max_live_parameters,
                   IntOrAlias(z, "stage3_max_live_parameters", "max_live_parameters",
                              out.max_live_parameters, 1));
  ASSIGN_OR_RETURN(out.reduce_bucket_size,
                   z.Int("reduce_bucket_size",
                         ctx.AutoOr(z, "reduce_bucket_size", h > 0 ? h * h : out.reduce_bucket_size,
                                    out.reduce_bucket_size),
                         1));
  ASSIGN_OR_RETURN(bool gather16, z.Bool("stage3_gather_16bit_weights_on_model_save", true));
  ASSIGN_OR_RETURN(bool gather16_alias, z.Bool("gather_16bit_weights_on_model_save", gather16));
  ASSIGN_OR_RETURN(bool gather_fp16,
                   z.Bool("stage3_gather_fp16_weights_on_model_save", gather16_alias));
  out.gather_16bit_weights_on_model_save = gather16 && gather16_alias && gather_fp16;
  // Changes of arithmetic or of the sharding scheme that zerod does not implement.
  RETURN_IF_ERROR(
      RefuseIfTrue(z, "zero_quantized_weights", "zerod gathers exact 16-bit weights: remove it"));
  RETURN_IF_ERROR(RefuseIfTrue(z, "zero_quantized_nontrainable_weights",
                               "zerod gathers exact 16-bit weights: remove it"));
  RETURN_IF_ERROR(
      RefuseIfTrue(z, "zero_quantized_gradients", "zerod reduces exact gradients: remove it"));
  RETURN_IF_ERROR(RefuseIfAbove(z, "zero_hpz_partition_size", 1,
                                "ZeRO++ hierarchical partitioning is not implemented: set 1"));
  RETURN_IF_ERROR(RefuseIfAbove(z, "mics_shard_size", 0,
                                "MiCS sharding is not implemented: remove it (zerod shards over "
                                "all ranks)"));
  RETURN_IF_ERROR(RefuseIfTrue(z, "cpu_offload",
                               "it is DeepSpeed's old name: write \"offload_optimizer\": "
                               "{\"device\": \"cpu\"}"));
  RETURN_IF_ERROR(RefuseIfTrue(z, "cpu_offload_params",
                               "it is DeepSpeed's old name: write \"offload_param\": "
                               "{\"device\": \"cpu\"}"));
  RETURN_IF_ERROR(RefuseIfTrue(z, "cpu_offload_param",
                               "it is DeepSpeed's old name: write \"offload_param\": "
                               "{\"device\": \"cpu\"}"));
  // Layout, bucketing and logging knobs of DeepSpeed's implementation that do not change
  // the result; zerod always reduce-scatters contiguous per-unit gradients.
  z.Ignore({"contiguous_gradients",
            "sub_group_size",
            "stage3_max_reuse_distance",
            "max_reuse_distance",
            "allgather_partitions",
            "allgather_bucket_size",
            "reduce_scatter",
            "round_robin_gradients",
            "memory_efficient_linear",
            "elastic_checkpoint",
            "load_from_fp32_weights",
            "ignore_unused_parameters",
            "cpu_offload_use_pin_memory",
            "stage3_model_persistence_threshold",
            "model_persistence_threshold",
            "stage3_module_granularity_threshold",
            "module_granularity_threshold",
            "stage3_use_all_reduce_for_fetch_params",
            "use_all_reduce_for_fetch_params",
            "use_multi_rank_bucket_allreduce",
            "mics_hierarchical_params_gather",
            "pipeline_loading_checkpoint",
            "override_module_apply",
            "log_trace_cache_warnings",
            "legacy_stage1",
            "zeropp_loco_param",
            "stage3_gather_fp16_weights_on_model_save"});
  return z.CheckUnknown(notes);
}

}  // namespace zerod::config
