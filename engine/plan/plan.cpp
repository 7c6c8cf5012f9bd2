#include "engine/plan/plan.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "engine/plan/memory_model.h"
#include "engine/plan/partition.h"
#include "engine/plan/step_cost.h"

namespace zerod::plan {
namespace {

// Where 16-bit parameter shards go, in the order "auto" tries them.
enum class ParamMode { kAllDevice, kHostUpdatedOnHost, kAllHost };

struct Candidate {
  int host_units = 0;  // the last units in forward order update on the host
  ParamMode params = ParamMode::kAllHost;
  bool gradients_on_host = false;  // for host-updated units
  // Host-updated units whose shard is on the host derive it from their master
  // (Request::derived_host_weights).
  bool host_derived = false;
};

// The model's shards on this world size (the engine's Partition, 16-byte aligned).
std::vector<int64_t> Shards(const Request& r) {
  std::vector<int64_t> shards;
  for (const UnitShape& u : r.units)
    shards.push_back(MakePartition(u.numel, r.world_size, kShardAlign)->shard_numel);
  return shards;
}

// How many trailing units hold `ratio` of the optimizer elements, as closely as whole
// units allow.
int HostUnitsForRatio(const std::vector<int64_t>& shards, double ratio) {
  int64_t total = 0;
  for (int64_t s : shards) total += s;
  int best = 0;
  double best_error = ratio;
  int64_t suffix = 0;
  for (int k = 1; k <= static_cast<int>(shards.size()); ++k) {
    suffix += shards[shards.size() - k];
    const double error =
        std::abs(static_cast<double>(suffix) / std::max<int64_t>(total, 1) - ratio);
    if (error <= best_error) best = k, best_error = error;
  }
  return best;
}

Plan Build(const Request& r, const std::vector<int64_t>& shards, int64_t gathered,
           int64_t activations, const Candidate& c) {
  Plan plan;
  const int n = static_cast<int>(shards.size());
  int64_t host_elements = 0, all_elements = 0;
  for (int i = 0; i < n; ++i) {
    UnitPlacement u;
    u.name = r.units[i].name;
    u.shard_numel = shards[i];
    const bool host_updated = i >= n - c.host_units;
    u.optimizer = host_updated ? Where::kHost : Where::kDevice;
    u.params = c.params == ParamMode::kAllDevice ||
                       (c.params == ParamMode::kHostUpdatedOnHost && !host_updated)
                   ? Where::kDevice
                   : Where::kHost;
    u.gradients = host_updated && c.gradients_on_host ? Where::kHost : Where::kDevice;
    // Note [derived shard]: a 16-bit shard beside its master is made from it.
    const bool device_derived = r.derived_weights && u.optimizer == Where::kDevice &&
                                (u.params == Where::kDevice || !r.gpu);
    const bool host_derived =
        c.host_derived && u.optimizer == Where::kHost && u.params == Where::kHost;
    u.derived = r.compute_dtype != DType::kFloat32 && (device_derived || host_derived);
    host_elements += host_updated ? shards[i] : 0;
    all_elements += shards[i];
    plan.total_param_numel += r.units[i].numel;
    plan.units.push_back(u);
  }
  plan.optimizer_ratio =
      all_elements > 0 ? static_cast<double>(host_elements) / static_cast<double>(all_elements) : 0;
  AccountBytes(r, gathered, activations, plan);
  const int64_t host_share = r.host_bytes / std::max(1, r.ranks_per_host);
  plan.host_usable = std::max<int64_t>(
      0, host_share - HostReserveBytes(r.host_bytes) / std::max(1, r.ranks_per_host));
  plan.gpu_usable = r.gpu ? std::max<int64_t>(0, r.gpu_bytes - GpuReserveBytes(r.gpu_bytes)) : 0;
  plan.fits = plan.gpu.Total() <= plan.gpu_usable && plan.host.Total() <= plan.host_usable;
  return plan;
}

int64_t Shortage(const Plan& p) {
  return std::max<int64_t>(0, p.gpu.Total() - p.gpu_usable) +
         std::max<int64_t>(0, p.host.Total() - p.host_usable);
}

// Every placement the request allows, fastest first (plan.h, MakePlan).
std::vector<Candidate> Candidates(const Request& r, const std::vector<int64_t>& shards) {
  std::vector<int> ks;
  if (r.optimizer_ratio.has_value()) {
    ks.push_back(HostUnitsForRatio(shards, *r.optimizer_ratio));
  } else {
    for (int k = 0; k <= static_cast<int>(shards.size()); ++k) ks.push_back(k);
  }
  std::vector<ParamMode> modes;
  switch (r.offload_param) {
    case Choice::kCpu:
      modes = {ParamMode::kAllHost};
      break;
    case Choice::kNone:
      modes = {ParamMode::kAllDevice};
      break;
    case Choice::kAuto:
      modes = {ParamMode::kAllDevice, ParamMode::kHostUpdatedOnHost, ParamMode::kAllHost};
      break;
  }
  // Each (host units, parameters, gradients) placement; `derive`: its host-updated units
  // that keep their shard on the host derive it instead (Request::derived_host_weights),
  // `only_derivable`: just the placements that have such units.
  std::vector<Candidate> out;
  auto add = [&](bool derive, bool only_derivable) {
    for (int k : ks) {
      for (ParamMode m : modes) {
        for (bool grads_on_host : {false, true}) {
          if (grads_on_host && k == 0) continue;
          const bool host_shards = k > 0 && m != ParamMode::kAllDevice;
          if (only_derivable && !host_shards) continue;
          out.push_back({k, m, grads_on_host, derive && host_shards});
        }
      }
    }
  };
  const bool may_derive =
      r.compute_dtype != DType::kFloat32 && !r.delayed_update && r.derived_host_weights != false;
  if (!may_derive) {
    add(false, false);
  } else if (r.derived_host_weights == true) {
    add(true, false);
  } else {
    // "auto": derived host shards only after every placement with kept ones (they double
    // the uploads), unless the time model, choosing the checkpointing, finds them faster.
    add(false, false);
    add(true, true);
  }
  return out;
}

// Note [speculative update] (zero/host_updater.h): the host memory a fitting placement
// leaves goes to spare state arrays for speculation, for the host-updated units that come first
// in the backward (the last in forward order): their gradients arrive earliest, so their
// updates have the most backward to hide in. The placement itself is not changed for it.
// Not where a unit's gradient is complete only at the step's end (host-held, summed over
// micro-batches on the GPU: grad_stream.h).
void AssignSpeculation(const Request& r, Plan& plan) {
  if (!r.speculative_update || !plan.fits) return;
  int64_t free = plan.host_usable - plan.host.Total();
  for (auto u = plan.units.rbegin(); u != plan.units.rend(); ++u) {
    if (u->optimizer != Where::kHost) break;
    if (r.gpu && r.grad_accum > 1 && u->gradients == Where::kHost) continue;
    const int64_t bytes = 3 * u->shard_numel * static_cast<int64_t>(sizeof(float));
    if (bytes > free) break;
    u->speculate = true;
    free -= bytes;
    plan.host.optimizer += bytes;
    ++plan.speculating_units;
  }
}

// Marks the units the plan recomputes: every unit for kOn (the embedding and the head
// too), else those of the first `layers` decoder layers.
void MarkRecomputed(const Request& r, int layers, Plan& plan) {
  plan.layers = static_cast<int>(r.shape.layers);
  const bool all = r.activation_checkpointing == Checkpointing::kOn;
  plan.recomputed_layers = all ? plan.layers : layers;
  for (size_t i = 0; i < plan.units.size(); ++i) {
    const int layer = r.units[i].layer;
    plan.units[i].recompute = all || (layer >= 0 && layer < layers);
  }
}

// The first placement that fits in preference order, else the one short by least.
Plan SearchPlacement(const Request& r, const std::vector<int64_t>& shards, int64_t gathered) {
  const int64_t activations = ActivationBytes(r);
  Plan best;
  bool have_best = false;
  for (const Candidate& c : Candidates(r, shards)) {
    Plan p = Build(r, shards, gathered, activations, c);
    if (p.fits) return p;
    if (!have_best || Shortage(p) < Shortage(best)) best = std::move(p), have_best = true;
  }
  return best;
}

// Checkpointing::kAuto: each placement with the fewest recomputed layers that fit it; the
// pair of least AddedSeconds, ties to the preference order. None fits: the least short
// placement with every layer recomputed.
Plan SearchWithCheckpointing(const Request& r, const std::vector<int64_t>& shards,
                             int64_t gathered) {
  const int layers = static_cast<int>(r.shape.layers);
  std::vector<int64_t> activations;
  for (int c = 0; c <= layers; ++c) activations.push_back(ActivationBytes(r, c));
  const std::vector<double> forward = ForwardSeconds(r);
  Plan best;
  int best_layers = layers;
  double best_cost = 0;
  bool have_fit = false, have_any = false;
  for (const Candidate& cand : Candidates(r, shards)) {
    // Activations shrink as layers are recomputed: the first that fits is the fewest.
    for (int c = 0; c <= layers; ++c) {
      Plan p = Build(r, shards, gathered, activations[c], cand);
      if (p.fits) {
        const double cost = AddedSeconds(r, forward, p.units, c);
        if (!have_fit || cost < best_cost) {
          best = std::move(p), best_layers = c, best_cost = cost, have_fit = true;
        }
        break;
      }
      if (c == layers && !have_fit && (!have_any || Shortage(p) < Shortage(best))) {
        best = std::move(p), best_layers = c, have_any = true;
      }
    }
    if (have_fit && best_cost == 0) break;  // nothing recomputed, nothing waited for
  }
  MarkRecomputed(r, best_layers, best);
  return best;
}

Plan Search(const Request& r) {
  const std::vector<int64_t> shards = Shards(r);
  std::vector<int64_t> padded;
  for (int64_t s : shards) padded.push_back(s * r.world_size);
  const int64_t gathered = GatheredPeakBytes(r, padded);
  if (r.activation_checkpointing == Checkpointing::kAuto)
    return SearchWithCheckpointing(r, shards, gathered);
  Plan plan = SearchPlacement(r, shards, gathered);
  MarkRecomputed(r, 0, plan);
  return plan;
}

// Changes to the request that would make it fit, each checked by planning it.
std::vector<std::string> Remedies(const Request& r) {
  std::vector<std::string> out;
  if (r.offload_param != Choice::kAuto || r.optimizer_ratio.has_value()) {
    Request a = r;
    a.offload_param = Choice::kAuto;
    a.optimizer_ratio.reset();
    if (Search(a).fits)
      out.push_back(
          "set zero_optimization.offload_param.device and offload_optimizer.ratio to \"auto\" "
          "(as configs/ds_zero3_auto.json does)");
  }
  if (r.derived_host_weights == false) {
    Request a = r;
    a.derived_host_weights.reset();
    if (Search(a).fits)
      out.push_back(
          "zero_optimization.zerod_derived_host_weights \"auto\" (host shards made from their "
          "masters where memory needs it)");
  }
  if (r.activation_checkpointing == Checkpointing::kOff) {
    Request a = r;
    a.activation_checkpointing = Checkpointing::kAuto;
    if (Search(a).fits) out.push_back("--activation-checkpointing auto");
  }
  if (r.micro_batch > 1) {
    // Keeping the batch by accumulation holds float32 gradients, which may cost more than
    // the activations saved: check both ways and say which one fits.
    Request same_batch = r;
    same_batch.micro_batch = 1;
    same_batch.grad_accum = r.grad_accum * r.micro_batch;
    Request smaller_batch = r;
    smaller_batch.micro_batch = 1;
    if (Search(same_batch).fits) {
      out.push_back(absl::StrCat("train_micro_batch_size_per_gpu 1 (gradient_accumulation_steps x",
                                 r.micro_batch, " keeps the batch)"));
    } else if (Search(smaller_batch).fits) {
      out.push_back(absl::StrCat("train_micro_batch_size_per_gpu 1 (a batch ", r.micro_batch,
                                 " times smaller: with accumulation it would not fit)"));
    }
  }
  for (int w = r.world_size * 2; w <= 1024; w *= 2) {
    Request a = r;
    a.world_size = w;
    if (Search(a).fits) {
      out.push_back(absl::StrCat(w, " ranks (", r.gpu ? "one GPU each, " : "", r.ranks_per_host,
                                 " per host with this host's memory)"));
      break;
    }
  }
  return out;
}

std::string Shortfall(const Request& r, const Plan& p) {
  std::vector<std::string> short_of;
  if (p.gpu.Total() > p.gpu_usable) {
    short_of.push_back(absl::StrCat(
        "the GPU needs ", FormatGiB(p.gpu.Total()), " per rank and has ", FormatGiB(p.gpu_usable),
        " usable (short by ", FormatGiB(p.gpu.Total() - p.gpu_usable), ")"));
  }
  if (p.host.Total() > p.host_usable) {
    short_of.push_back(absl::StrCat("host memory needs ", FormatGiB(p.host.Total()),
                                    " per rank and has ", FormatGiB(p.host_usable),
                                    " usable (short by ", FormatGiB(p.host.Total() - p.host_usable),
                                    ")"));
  }
  std::string message = absl::StrCat("the model does not fit: ", absl::StrJoin(short_of, "; "));
  const std::vector<std::string> remedies = Remedies(r);
  if (remedies.empty()) {
    absl::StrAppend(&message,
                    ". Nothing tried makes it fit (auto placement, activation checkpointing, "
                    "micro-batch 1, up to 1024 ranks)");
  } else {
    absl::StrAppend(&message, ". It would fit with any of: ", absl::StrJoin(remedies, "; or "));
  }
  return message;
}

}  // namespace

absl::StatusOr<Plan> MakePlan(const Request& r) {
  if (r.units.empty()) return absl::InvalidArgumentError("plan: the model has no units");
  if (r.world_size < 1 || r.ranks_per_host < 1) {
    return absl::InvalidArgumentError(absl::StrCat("plan: world size ", r.world_size,
                                                   " and ranks per host ", r.ranks_per_host,
                                                   " must be at least 1"));
  }
  if (r.optimizer_ratio.has_value() && !(*r.optimizer_ratio >= 0.0 && *r.optimizer_ratio <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("zero_optimization.offload_optimizer.ratio is ", *r.optimizer_ratio,
                     "; it is the share of optimizer state on the CPU: a number in [0, 1] or "
                     "\"auto\""));
  }
  if (r.micro_batch < 1 || r.seq_len < 1 || r.grad_accum < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("plan: micro batch ", r.micro_batch, ", sequence length ", r.seq_len,
                     " and accumulation ", r.grad_accum, " must be at least 1"));
  }
  for (const UnitShape& u : r.units) {
    for (int j : u.reads) {
      if (j < 0 || j >= static_cast<int>(r.units.size())) {
        return absl::InvalidArgumentError(
            absl::StrCat("plan: unit ", u.name, " reads unit ", j, ", which does not exist"));
      }
    }
  }
  Plan plan = Search(r);
  if (!plan.fits) plan.shortfall = Shortfall(r, plan);
  AssignSpeculation(r, plan);
  return plan;
}

absl::StatusOr<int64_t> ParseByteSize(const std::string& text, const std::string& flag) {
  const char* begin = text.c_str();
  char* end = nullptr;
  const double value = std::strtod(begin, &end);
  std::string unit(end);
  unit.erase(std::remove_if(unit.begin(), unit.end(), ::isspace), unit.end());
  std::transform(unit.begin(), unit.end(), unit.begin(), ::tolower);
  const std::pair<const char*, double> units[] = {{"", 1.0},
                                                  {"b", 1.0},
                                                  {"k", 1024.0},
                                                  {"kib", 1024.0},
                                                  {"kb", 1e3},
                                                  {"m", 1048576.0},
                                                  {"mib", 1048576.0},
                                                  {"mb", 1e6},
                                                  {"g", 1073741824.0},
                                                  {"gib", 1073741824.0},
                                                  {"gb", 1e9},
                                                  {"t", 1099511627776.0},
                                                  {"tib", 1099511627776.0},
                                                  {"tb", 1e12}};
  if (end != begin && std::isfinite(value) && value > 0) {
    for (const auto& [name, scale] : units) {
      if (unit == name) return static_cast<int64_t>(value * scale);
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      flag, " \"", text, "\" is not a memory size; write it like 141GiB, 128GB or auto"));
}

std::string FormatGiB(int64_t bytes) {
  return absl::StrFormat("%.1f GiB", static_cast<double>(bytes) / (int64_t{1} << 30));
}

}  // namespace zerod::plan
