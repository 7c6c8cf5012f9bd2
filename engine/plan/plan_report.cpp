#include "engine/plan/plan_report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace zerod::plan {
namespace {

const char* Name(Where w, bool gpu) {
  if (w == Where::kHost) return gpu ? "host" : "cpu";
  return gpu ? "gpu" : "cpu";
}

nlohmann::ordered_json KindsJson(const Bytes& b) {
  return {{"params", b.params},     {"optimizer", b.optimizer},     {"gradients", b.gradients},
          {"gathered", b.gathered}, {"activations", b.activations}, {"buffers", b.buffers},
          {"total", b.Total()}};
}

std::string Placement(const UnitPlacement& u, bool gpu) {
  // A host unit's derived shard is the plan's choice (device ones always are derived).
  const bool host_derived = gpu && u.derived && u.optimizer == Where::kHost;
  return absl::StrCat("parameters ", Name(u.params, gpu),
                      host_derived ? " (made from the master at each gather)" : "", ", optimizer ",
                      Name(u.optimizer, gpu), ", gradients ", Name(u.gradients, gpu),
                      u.speculate ? ", updated during the backward" : "");
}

const char* CheckpointingName(Checkpointing c) {
  switch (c) {
    case Checkpointing::kOff:
      return "off";
    case Checkpointing::kOn:
      return "on";
    case Checkpointing::kAuto:
      break;
  }
  return "auto";
}

// "off", "on", "auto (12 of 32 layers recomputed)".
std::string CheckpointingText(const Request& r, const Plan& plan) {
  if (r.activation_checkpointing != Checkpointing::kAuto)
    return CheckpointingName(r.activation_checkpointing);
  return absl::StrCat("auto (", plan.recomputed_layers, " of ", plan.layers, " layers recomputed)");
}

}  // namespace

std::string FormatPlanText(const Plan& plan, const ReportContext& c) {
  const Request& r = *c.request;
  std::string out = absl::StrFormat(
      "zerod plan: %s, %.2fB parameters in %d units, world size %d (%d per host), "
      "micro-batch %d x %d tokens, %s, activation checkpointing %s, on %s\n",
      c.model, static_cast<double>(plan.total_param_numel) / 1e9,
      static_cast<int>(plan.units.size()), r.world_size, r.ranks_per_host, r.micro_batch, r.seq_len,
      DTypeName(r.compute_dtype), CheckpointingText(r, plan),
      r.gpu ? absl::StrCat("GPUs of ", FormatGiB(r.gpu_bytes)) : std::string("CPU"));
  absl::StrAppendFormat(&out, "host memory %s per host; optimizer state on the CPU: %.2f\n",
                        FormatGiB(r.host_bytes), plan.optimizer_ratio);
  // Runs of units with the same placement.
  for (size_t i = 0; i < plan.units.size();) {
    size_t j = i;
    const std::string where = Placement(plan.units[i], r.gpu);
    while (j + 1 < plan.units.size() && Placement(plan.units[j + 1], r.gpu) == where) ++j;
    absl::StrAppendFormat(&out, "  units %d-%d (%s .. %s): %s\n", i, j, plan.units[i].name,
                          plan.units[j].name, where);
    i = j + 1;
  }
  absl::StrAppendFormat(&out, "per rank (every rank holds the same)  %12s %12s\n",
                        r.gpu ? "GPU" : "", "host");
  const std::pair<const char*, int64_t Bytes::*> kinds[] = {
      {"parameters (16-bit shards)", &Bytes::params},
      {"optimizer state (fp32 master, m, v)", &Bytes::optimizer},
      {"gradients held for the step", &Bytes::gradients},
      {"gathered parameters (peak)", &Bytes::gathered},
      {"activations and logits (peak)", &Bytes::activations},
      {"buffers and runtime", &Bytes::buffers}};
  for (const auto& [label, field] : kinds) {
    absl::StrAppendFormat(&out, "  %-36s %12s %12s\n", label,
                          r.gpu ? FormatGiB(plan.gpu.*field) : "", FormatGiB(plan.host.*field));
  }
  absl::StrAppendFormat(&out, "  %-36s %12s %12s\n", "total",
                        r.gpu ? FormatGiB(plan.gpu.Total()) : "", FormatGiB(plan.host.Total()));
  absl::StrAppendFormat(&out, "  %-36s %12s %12s\n", "usable",
                        r.gpu ? FormatGiB(plan.gpu_usable) : "", FormatGiB(plan.host_usable));
  absl::StrAppend(&out,
                  plan.fits ? "fits: yes\n" : absl::StrCat("fits: no: ", plan.shortfall, "\n"));
  return out;
}

std::string FormatPlanJson(const Plan& plan, const ReportContext& c) {
  const Request& r = *c.request;
  nlohmann::ordered_json j;
  j["fits"] = plan.fits;
  j["model"] = c.model;
  j["parameters"] = plan.total_param_numel;
  j["world_size"] = r.world_size;
  j["device"] = r.gpu ? "gpu" : "cpu";
  j["optimizer_ratio"] = plan.optimizer_ratio;
  j["activation_checkpointing"] = CheckpointingName(r.activation_checkpointing);
  j["layers"] = plan.layers;
  j["recomputed_layers"] = plan.recomputed_layers;
  j["gpu_usable_bytes"] = plan.gpu_usable;
  j["host_usable_bytes"] = plan.host_usable;
  nlohmann::ordered_json ranks = nlohmann::ordered_json::array();
  for (int rank = 0; rank < r.world_size; ++rank) {
    ranks.push_back({{"rank", rank},
                     {"gpu_bytes", plan.gpu.Total()},
                     {"host_bytes", plan.host.Total()},
                     {"gpu", KindsJson(plan.gpu)},
                     {"host", KindsJson(plan.host)}});
  }
  j["ranks"] = ranks;
  nlohmann::ordered_json units = nlohmann::ordered_json::array();
  for (const UnitPlacement& u : plan.units) {
    units.push_back({{"name", u.name},
                     {"shard_numel", u.shard_numel},
                     {"params", Name(u.params, r.gpu)},
                     {"optimizer", Name(u.optimizer, r.gpu)},
                     {"gradients", Name(u.gradients, r.gpu)},
                     {"derived", u.derived},
                     {"speculate", u.speculate},
                     {"recompute", u.recompute}});
  }
  j["units"] = units;
  if (!plan.fits) j["shortfall"] = plan.shortfall;
  return j.dump();
}

}  // namespace zerod::plan
