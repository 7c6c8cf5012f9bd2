// The top-level DeepSpeed sections beside batch, precision, optimizer, scheduler and
// zero_optimization (ds_sections.h): the monitors zerod writes (tensorboard, csv_monitor),
// the others accepted as not changing training, with a note when they ask for something
// zerod does not do, or refused when they would change the arithmetic.
#include "absl/strings/str_cat.h"
#include "engine/config/ds_sections.h"
#include "engine/util/files.h"
#include "engine/util/status_macros.h"

namespace zerod::config {
namespace {

// The "enabled" switch of a section (absent section or key: off).
absl::StatusOr<bool> Enabled(JsonReader& root, const std::string& section) {
  if (!root.Has(section)) {
    root.Ignore({section.c_str()});
    return false;
  }
  ASSIGN_OR_RETURN(JsonReader s, root.Object(section));
  return s.Bool("enabled", false);
}

// A section that only observes training: accepted; when enabled, `note` says what zerod
// does instead.
absl::Status Observer(JsonReader& root, const std::string& section, const std::string& note,
                      ParseContext& ctx) {
  ASSIGN_OR_RETURN(bool on, Enabled(root, section));
  if (on) ctx.out.notes.push_back(absl::StrCat(section, " is enabled; ", note));
  return absl::OkStatus();
}

// A monitor section that zerod honours (engine/monitor/): its keys, DeepSpeed's defaults.
absl::Status ParseMonitor(JsonReader& root, const std::string& section, MonitorConfig& out,
                          std::vector<std::string>& notes) {
  ASSIGN_OR_RETURN(JsonReader s, root.Object(section));
  ASSIGN_OR_RETURN(out.enabled, s.Bool("enabled", out.enabled));
  ASSIGN_OR_RETURN(out.output_path, s.String("output_path", out.output_path));
  ASSIGN_OR_RETURN(out.job_name, s.String("job_name", out.job_name));
  return s.CheckUnknown(notes);
}

// A feature that changes what is trained: refused when enabled.
absl::Status Refused(JsonReader& root, const std::string& section, const std::string& why) {
  ASSIGN_OR_RETURN(bool on, Enabled(root, section));
  return on ? root.Error(section, absl::StrCat("is enabled; ", why)) : absl::OkStatus();
}

}  // namespace

std::string MonitorConfig::Dir() const {
  const std::string dir = JoinPath(output_path, job_name);
  return dir.empty() ? "." : dir;
}

absl::Status ParseExtras(JsonReader& root, ParseContext& ctx) {
  auto& notes = ctx.out.notes;
  RETURN_IF_ERROR(ParseMonitor(root, "tensorboard", ctx.out.tensorboard, notes));
  RETURN_IF_ERROR(ParseMonitor(root, "csv_monitor", ctx.out.csv_monitor, notes));
  RETURN_IF_ERROR(Observer(root, "flops_profiler",
                           "not run; the step lines give tokens/s and TFLOP/s follow from them",
                           ctx));
  RETURN_IF_ERROR(Observer(root, "comms_logger", "not kept; zerod does not log collectives", ctx));
  RETURN_IF_ERROR(
      Observer(root, "autotuning", "not run; `zerod --plan` chooses the placement", ctx));
  // Services that need the network from the training nodes.
  for (const char* service : {"wandb", "comet"}) {
    RETURN_IF_ERROR(Refused(root, service,
                            "zerod does not reach the network from the training nodes: "
                            "remove it and enable \"tensorboard\" instead (rank 0 writes event "
                            "files that TensorBoard reads: `tensorboard --logdir "
                            "OUTPUT_PATH/JOB_NAME`)"));
  }
  // Features that change what is trained or how it is split.
  RETURN_IF_ERROR(Refused(root, "elasticity",
                          "zerod keeps the batch fixed: remove it (a checkpoint resumes at "
                          "another world size)"));
  RETURN_IF_ERROR(Refused(root, "curriculum_learning", "zerod samples the data uniformly"));
  RETURN_IF_ERROR(Refused(root, "data_efficiency", "zerod samples the data uniformly"));
  for (const char* feature : {"compression_training", "sparse_attention", "weight_quantization"}) {
    if (root.Has(feature)) {
      return root.Error(feature, "is not supported by zerod (it changes the model): remove it");
    }
    root.Ignore({feature});
  }
  ASSIGN_OR_RETURN(bool sparse, root.Bool("sparse_gradients", false));
  if (sparse) return root.Error("sparse_gradients", "is true; zerod reduces dense gradients");
  ASSIGN_OR_RETURN(int64_t seq_parallel, root.Int("seq_parallel_size", 1, 1));
  if (seq_parallel > 1) {
    return root.Error("seq_parallel_size",
                      absl::StrCat("is ", seq_parallel,
                                   "; zerod has no sequence parallelism: set 1 (every rank "
                                   "runs whole sequences)"));
  }
  // data_types.grad_accum_dtype: zerod accumulates gradients in float32.
  ASSIGN_OR_RETURN(JsonReader data_types, root.Object("data_types"));
  ASSIGN_OR_RETURN(std::string accum, data_types.String("grad_accum_dtype", "fp32"));
  if (accum != "fp32" && accum != "float32") {
    return data_types.Error("grad_accum_dtype",
                            absl::StrCat("is \"", accum,
                                         "\"; zerod accumulates gradients in float32: set "
                                         "\"fp32\" or remove it"));
  }
  RETURN_IF_ERROR(data_types.CheckUnknown(notes));
  // communication_data_type: zerod reduce-scatters in the compute dtype where the
  // communicator can (NCCL), else in float32; the sum is the same up to rounding.
  ASSIGN_OR_RETURN(std::string comm_dtype, root.String("communication_data_type", ""));
  if (!comm_dtype.empty() && comm_dtype != "fp32" && comm_dtype != "fp16" && comm_dtype != "bf16") {
    return root.Error("communication_data_type",
                      absl::StrCat("is \"", comm_dtype, "\"; use \"fp32\", \"fp16\" or \"bf16\""));
  }
  if (!comm_dtype.empty()) {
    notes.push_back(absl::StrCat("communication_data_type \"", comm_dtype,
                                 "\" is not used: zerod reduce-scatters gradients in the compute "
                                 "dtype where NCCL does, else in float32"));
  }
  // prescale_gradients / gradient_predivide_factor move the division by the world size
  // before the sum; zerod divides once after it (the same gradient up to rounding).
  ASSIGN_OR_RETURN(bool prescale, root.Bool("prescale_gradients", false));
  ASSIGN_OR_RETURN(double predivide, root.Number("gradient_predivide_factor", 1.0, 0.0));
  if (prescale || predivide != 1.0) {
    notes.push_back(
        "prescale_gradients / gradient_predivide_factor are not used: zerod averages the "
        "summed gradients once (the same gradient up to rounding)");
  }
  // activation_checkpointing configures DeepSpeed's checkpointing API, which Hugging Face
  // models do not call; zerod's is --activation-checkpointing, whose default (auto) has
  // the plan recompute as many layers as memory requires, section or not.
  if (root.Has("activation_checkpointing")) {
    ASSIGN_OR_RETURN(JsonReader ac, root.Object("activation_checkpointing"));
    ASSIGN_OR_RETURN(bool partition, ac.Bool("partition_activations", false));
    ASSIGN_OR_RETURN(bool cpu, ac.Bool("cpu_checkpointing", false));
    ac.Ignore({"contiguous_memory_optimization", "number_checkpoints",
               "synchronize_checkpoint_boundary", "profile"});
    RETURN_IF_ERROR(ac.CheckUnknown(notes));
    if (partition || cpu) {
      notes.push_back(
          "activation_checkpointing.partition_activations / cpu_checkpointing are not used: "
          "zerod recomputes the layers its plan chooses (--activation-checkpointing auto, the "
          "default) and keeps their inputs on the GPU");
    }
  }
  ASSIGN_OR_RETURN(bool breakdown, root.Bool("wall_clock_breakdown", false));
  (void)breakdown;  // zerod's step lines always carry the step's parts
  // checkpoint I/O knobs (tag validation, universal checkpoints, parallel writes) and
  // DeepSpeed's asynchronous I/O for NVMe: zerod's checkpoints have their own format.
  for (const char* section : {"checkpoint", "aio", "nebula"}) {
    if (root.Has(section)) {
      notes.push_back(absl::StrCat(section,
                                   " is not used: zerod writes its own sharded "
                                   "checkpoints (see --save-dir)"));
    }
    root.Ignore({section});
  }
  root.Ignore({"zero_allow_untested_optimizer", "zero_force_ds_cpu_optimizer", "dump_state",
               "memory_breakdown", "dataloader_drop_last", "timers", "disable_allgather",
               "load_universal_checkpoint", "use_data_before_expert_parallel_", "graph_harvesting",
               "monitor_config", "pipeline"});
  if (root.Has("pipeline")) {
    notes.push_back("pipeline is not used: zerod has no pipeline parallelism (ZeRO-3 only)");
  }
  return absl::OkStatus();
}

}  // namespace zerod::config
