#include "client/format.h"

#include <google/protobuf/util/json_util.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace zerod::client {

std::string Bytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (std::abs(v) >= 1024.0 && u < 4) {
    v /= 1024.0;
    ++u;
  }
  return u == 0 ? absl::StrCat(bytes, " B") : absl::StrFormat("%.1f %s", v, units[u]);
}

std::string Duration(double seconds) {
  if (!(seconds >= 0) || std::isinf(seconds)) return "-";
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s >= 3600) return absl::StrFormat("%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60);
  return absl::StrFormat("%d:%02d", s / 60, s % 60);
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

std::string StateName(v1::JobState state) { return v1::JobState_Name(state); }

std::string JobTable(const std::vector<v1::JobStatus>& jobs) {
  std::string out = absl::StrFormat("%-8s %-10s %-13s %-10s %-12s %s\n", "JOB", "STATE", "STEPS",
                                    "LOSS", "TOKENS/S", "MODEL / REASON");
  for (const auto& j : jobs) {
    const bool has_step = j.has_last() && j.last().step() > 0;
    std::string detail = j.reason().empty() ? j.spec().model_dir() : j.reason();
    if (!j.name().empty()) detail = absl::StrCat(j.name(), ": ", detail);
    out +=
        absl::StrFormat("%-8s %-10s %-13s %-10s %-12s %s\n", j.job_id(), StateName(j.state()),
                        absl::StrCat(j.steps_done(), "/", j.steps_total()),
                        has_step ? absl::StrFormat("%.4f", j.last().loss()) : "-",
                        has_step ? absl::StrFormat("%.0f", j.last().tokens_per_s()) : "-", detail);
  }
  return out;
}

std::string JobDetails(const v1::JobStatus& j) {
  std::string out;
  auto line = [&](const std::string& k, const std::string& v) {
    if (!v.empty()) out += absl::StrFormat("%-14s %s\n", k, v);
  };
  line("job", j.job_id());
  line("name", j.name());
  line("state", StateName(j.state()));
  line("reason", j.reason());
  line("steps", absl::StrCat(j.steps_done(), "/", j.steps_total()));
  if (j.has_last() && j.last().step() > 0) line("last step", StepLine(j.last(), j.steps_total()));
  line("model", j.spec().model_dir());
  line("ds config", j.spec().ds_config_path().empty() ? "(inline)" : j.spec().ds_config_path());
  line("data", j.spec().data_path());
  if (j.num_parameters() > 0) line("parameters", absl::StrFormat("%d", j.num_parameters()));
  line("ranks", absl::StrCat(j.world_size()));
  line("device", j.device());
  line("dtype", j.dtype());
  return out;
}

std::string MemoryTable(const v1::GetMemoryStatsResponse& m) {
  std::string out;
  if (!m.job_id().empty()) out += absl::StrCat("job ", m.job_id(), " at step ", m.step(), "\n");
  out += absl::StrFormat("%-5s %-7s %-11s %-11s %-11s %-11s %-11s %-11s %-11s %-11s\n", "RANK",
                         "DEVICE", "GPU ALLOC", "GPU RESV", "GPU PEAK", "PINNED", "PAGEABLE", "RSS",
                         "PARAMS", "OPTIM");
  for (const auto& r : m.ranks()) {
    out += absl::StrFormat(
        "%-5d %-7s %-11s %-11s %-11s %-11s %-11s %-11s %-11s %-11s\n", r.rank(), r.device(),
        Bytes(r.gpu_allocated_bytes()), Bytes(r.gpu_reserved_bytes()), Bytes(r.gpu_peak_bytes()),
        Bytes(r.pinned_host_bytes()), Bytes(r.pageable_host_bytes()), Bytes(r.rss_bytes()),
        Bytes(r.param_shard_bytes()), Bytes(r.optimizer_shard_bytes() + r.grad_shard_bytes()));
  }
  return out;
}

std::string StepLine(const v1::StepMetrics& s, int64_t total) {
  return absl::StrFormat("step %d/%d  loss %.4f  lr %.2e  grad %.3f  %.1fk tok/s  %.2f s%s",
                         s.step(), total, s.loss(), s.lr(), s.grad_norm(),
                         s.tokens_per_s() / 1000.0, s.step_seconds(),
                         s.skipped() ? "  (skipped: fp16 overflow)" : "");
}

std::string ProgressLine(const v1::StepMetrics& s, int64_t total, double eta_seconds) {
  constexpr int kWidth = 20;
  const int filled =
      total > 0 ? static_cast<int>(kWidth * std::min<int64_t>(s.step(), total) / total) : 0;
  return absl::StrFormat("[%s%s] %d/%d  loss %.4f  %.1fk tok/s  ETA %s", std::string(filled, '#'),
                         std::string(kWidth - filled, '.'), s.step(), total, s.loss(),
                         s.tokens_per_s() / 1000.0, Duration(eta_seconds));
}

}  // namespace zerod::client
