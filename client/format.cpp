#include "client/format.h"

#include <google/protobuf/descriptor.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

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

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

nlohmann::ordered_json MessageJson(const Message& m);

// One value of `f` (element `i` when repeated).
nlohmann::ordered_json FieldJson(const Message& m, const FieldDescriptor* f, int i) {
  const Reflection* r = m.GetReflection();
  const bool rep = f->is_repeated();
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return rep ? r->GetRepeatedInt32(m, f, i) : r->GetInt32(m, f);
    case FieldDescriptor::CPPTYPE_INT64:
      return rep ? r->GetRepeatedInt64(m, f, i) : r->GetInt64(m, f);
    case FieldDescriptor::CPPTYPE_UINT32:
      return rep ? r->GetRepeatedUInt32(m, f, i) : r->GetUInt32(m, f);
    case FieldDescriptor::CPPTYPE_UINT64:
      return rep ? r->GetRepeatedUInt64(m, f, i) : r->GetUInt64(m, f);
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return rep ? r->GetRepeatedDouble(m, f, i) : r->GetDouble(m, f);
    case FieldDescriptor::CPPTYPE_FLOAT:
      return rep ? r->GetRepeatedFloat(m, f, i) : r->GetFloat(m, f);
    case FieldDescriptor::CPPTYPE_BOOL:
      return rep ? r->GetRepeatedBool(m, f, i) : r->GetBool(m, f);
    case FieldDescriptor::CPPTYPE_ENUM:
      return (rep ? r->GetRepeatedEnum(m, f, i) : r->GetEnum(m, f))->name();
    case FieldDescriptor::CPPTYPE_STRING:
      return rep ? r->GetRepeatedString(m, f, i) : r->GetString(m, f);
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return MessageJson(rep ? r->GetRepeatedMessage(m, f, i) : r->GetMessage(m, f));
  }
  return nullptr;
}

nlohmann::ordered_json MessageJson(const Message& m) {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  const auto* d = m.GetDescriptor();
  const Reflection* r = m.GetReflection();
  for (int k = 0; k < d->field_count(); ++k) {
    const FieldDescriptor* f = d->field(k);
    if (f->is_repeated()) {
      auto list = nlohmann::ordered_json::array();
      for (int i = 0; i < r->FieldSize(m, f); ++i) list.push_back(FieldJson(m, f, i));
      out[f->name()] = std::move(list);
    } else if ((f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE || f->containing_oneof()) &&
               !r->HasField(m, f)) {
      continue;  // unset sub-messages and oneof members are left out
    } else {
      out[f->name()] = FieldJson(m, f, 0);
    }
  }
  return out;
}

}  // namespace

// Written by hand rather than with protobuf's JSON printer, which writes 64-bit integers
// as strings: scripts want numbers, and no byte count or step reaches 2^53.
std::string ToJson(const google::protobuf::Message& message) { return MessageJson(message).dump(); }

std::string ToJson(const google::protobuf::Message& message, const std::string& key,
                   const google::protobuf::Message& extra) {
  nlohmann::ordered_json out = MessageJson(message);
  out[key] = MessageJson(extra);
  return out.dump();
}

std::string StateName(v1::JobState state) { return v1::JobState_Name(state); }

std::string JobTable(const std::vector<v1::JobStatus>& jobs) {
  // The state column fits the longest names (SAVE_FAILED, INTERRUPTED).
  std::string out = absl::StrFormat("%-8s %-11s %-13s %-10s %-12s %s\n", "JOB", "STATE", "STEPS",
                                    "LOSS", "TOKENS/S", "MODEL / REASON");
  for (const auto& j : jobs) {
    const bool has_step = j.has_last() && j.last().step() > 0;
    std::string detail = j.reason().empty() ? j.spec().model_dir() : j.reason();
    if (!j.name().empty()) detail = absl::StrCat(j.name(), ": ", detail);
    out +=
        absl::StrFormat("%-8s %-11s %-13s %-10s %-12s %s\n", j.job_id(), StateName(j.state()),
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
  std::string line = absl::StrFormat(
      "step %d/%d  loss %.4f  lr %.2e  grad %.3f  %.1fk tok/s  %.2f s%s", s.step(), total, s.loss(),
      s.lr(), s.grad_norm(), s.tokens_per_s() / 1000.0, s.step_seconds(),
      s.no_labels() ? "  (skipped: no label in the batch)"
      : s.skipped() ? "  (skipped: fp16 overflow)"
                    : "");
  if (s.eval_tokens() > 0) {
    absl::StrAppend(&line, absl::StrFormat("  eval_loss %.4f  eval_ppl %.3f  (%d tokens)",
                                           s.eval_loss(), s.eval_perplexity(), s.eval_tokens()));
  }
  if (!s.saved_checkpoint().empty()) absl::StrAppend(&line, "  saved ", s.saved_checkpoint());
  if (!s.checkpoint_error().empty()) {
    absl::StrAppend(&line, "  periodic save FAILED (training goes on): ", s.checkpoint_error());
  }
  return line;
}

std::string ProgressLine(const v1::StepMetrics& s, int64_t total, double eta_seconds) {
  constexpr int kWidth = 20;
  const int filled =
      total > 0 ? static_cast<int>(kWidth * std::min<int64_t>(s.step(), total) / total) : 0;
  return absl::StrFormat("[%s%s] %d/%d  loss %.4f  %.1fk tok/s  ETA %s", std::string(filled, '#'),
                         std::string(kWidth - filled, '.'), s.step(), total, s.loss(),
                         s.tokens_per_s() / 1000.0, Duration(eta_seconds));
}

std::vector<std::string> StepPartsLines(const v1::StepMetrics& s) {
  const double total = s.step_seconds();
  auto part = [total](const char* name, double seconds) {
    return absl::StrFormat("%s %.2f (%.0f%%)", name, seconds,
                           total > 0 ? 100.0 * seconds / total : 0.0);
  };
  // What the three parts leave out: reading the batch, releasing the gathered parameters,
  // the loss's all-reduce.
  const double other =
      std::max(0.0, total - s.forward_seconds() - s.backward_seconds() - s.optimizer_seconds());
  return {
      absl::StrFormat("%.2f s: %s  %s  %s  other %.2f", total, part("forward", s.forward_seconds()),
                      part("backward", s.backward_seconds()),
                      part("optimizer", s.optimizer_seconds()), other),
      absl::StrFormat("transfers %.2f s  optimizer %.2f s", s.transfer_wait_seconds(),
                      s.optimizer_wait_seconds())};
}

std::vector<std::string> RankMemoryLines(const v1::GetMemoryStatsResponse& m, int max_ranks) {
  std::vector<std::string> lines;
  const int n = m.ranks_size();
  // With more ranks than lines, the last line speaks for the rest.
  const int shown = n > max_ranks ? max_ranks - 1 : n;
  for (int i = 0; i < shown; ++i) {
    const auto& r = m.ranks(i);
    lines.push_back(absl::StrFormat("rank %-3d %-7s GPU peak %-11s RSS %s", r.rank(), r.device(),
                                    Bytes(r.gpu_peak_bytes()), Bytes(r.rss_bytes())));
  }
  if (shown < n) {
    int64_t gpu = 0, rss = 0;
    for (int i = shown; i < n; ++i) {
      gpu = std::max(gpu, m.ranks(i).gpu_peak_bytes());
      rss = std::max(rss, m.ranks(i).rss_bytes());
    }
    lines.push_back(absl::StrFormat("ranks %d-%d: largest GPU peak %s, largest RSS %s",
                                    m.ranks(shown).rank(), m.ranks(n - 1).rank(), Bytes(gpu),
                                    Bytes(rss)));
  }
  return lines;
}

}  // namespace zerod::client
