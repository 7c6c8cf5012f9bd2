#include "daemon/run_log.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace zerod::daemon {
namespace {

const char* PyBool(bool b) { return b ? "True" : "False"; }

std::string Bytes(int64_t b) {
  return absl::StrFormat("%.2f MiB", static_cast<double>(b) / (1 << 20));
}

}  // namespace

std::string InitBlock(const JobInfo& info) {
  const std::string rule(60, '=');
  return absl::StrCat(
      rule, "\nDeepSpeed ZeRO-3 Initialization Complete\n", rule,
      "\n  ZeRO Stage: ", info.zero_stage, "\n  Parameter offloading: ", PyBool(info.offload_param),
      "\n  Optimizer offloading: ", PyBool(info.offload_optimizer), "\n  Global rank: ", info.rank,
      "\n  World size: ", info.world_size, "\n  Device: ", info.device, "\n", rule, "\n");
}

std::string StepJson(const StepMetrics& m) {
  nlohmann::json j = {
      {"step", m.step},
      {"loss", m.loss},
      {"lr", m.lr},
      {"grad_norm", m.grad_norm},
      {"loss_scale", m.loss_scale},
      {"skipped", m.skipped},
      {"step_time_s", m.step_seconds},
      {"tokens_per_s", m.tokens_per_s},
      {"gpu_peak_GiB", static_cast<double>(m.gpu_peak_bytes) / (1ull << 30)},
      {"forward_s", m.forward_seconds},
      {"backward_s", m.backward_seconds},
      {"optimizer_s", m.optimizer_seconds},
      {"optimizer_cpu_s", m.optimizer_cpu_seconds},
      {"optimizer_gpu_s", m.optimizer_gpu_seconds},
      {"transfer_wait_s", m.transfer_wait_seconds},
      {"optimizer_wait_s", m.optimizer_wait_seconds},
      {"speculated_units", m.speculated_units},
      {"undone_units", m.undone_units},
      {"undo_s", m.undo_seconds},
      {"delayed_units", m.delayed_units},
      {"gradient_wait_s", m.gradient_wait_seconds},
      {"host_rss_GiB", static_cast<double>(m.host_rss_bytes) / (1ull << 30)},
      {"host_peak_rss_GiB", static_cast<double>(m.host_peak_rss_bytes) / (1ull << 30)}};
  if (!std::isnan(m.router_aux_loss)) {
    j["router_aux_loss"] = m.router_aux_loss;
    j["unused_experts"] = m.unused_experts;
  }
  if (!m.saved_checkpoint.empty()) j["saved_checkpoint"] = m.saved_checkpoint;
  if (!m.checkpoint_error.empty()) j["checkpoint_error"] = m.checkpoint_error;
  if (m.label_tokens > 0) j["label_tokens"] = m.label_tokens;
  if (m.no_labels) j["no_labels"] = true;
  if (m.eval_tokens > 0) {
    j["eval_loss"] = m.eval_loss;
    j["eval_ppl"] = m.eval_perplexity;
    j["eval_tokens"] = m.eval_tokens;
  }
  return j.dump();
}

void RunLog::PrintInitBlock(const JobInfo& info, const std::string& launcher) const {
  if (!enabled_) return;
  std::printf("%s", InitBlock(info).c_str());
  std::printf(
      "  Launcher: %s | dtype %s | %lld parameters | batch %lld = %lld micro x %lld accum x %d "
      "ranks\n",
      launcher.c_str(), info.dtype.c_str(), static_cast<long long>(info.num_parameters),
      static_cast<long long>(info.train_batch_size),
      static_cast<long long>(info.micro_batch_per_gpu),
      static_cast<long long>(info.gradient_accumulation_steps), info.world_size);
  if (!info.placement.empty()) std::printf("  Placement: %s\n", info.placement.c_str());
  if (!info.weights.empty()) std::printf("  Weights: %s\n", info.weights.c_str());
  std::fflush(stdout);
}

void RunLog::SetJob(const JobInfo& info) {
  if (info.total_steps > 0) total_steps_ = info.total_steps;
  steps_per_print_ = std::max<int64_t>(1, info.steps_per_print);
}

bool RunLog::PrintsStep(const StepMetrics& m) const {
  return json_ || m.step == 1 || m.step >= total_steps_ || m.step % steps_per_print_ == 0 ||
         m.eval_tokens > 0 || m.skipped || !m.saved_checkpoint.empty() ||
         !m.checkpoint_error.empty();
}

void RunLog::PrintStep(const StepMetrics& m) const {
  if (!enabled_ || !PrintsStep(m)) return;
  if (json_) {
    std::printf("%s\n", StepJson(m).c_str());
  } else {
    const std::string aux = std::isnan(m.router_aux_loss)
                                ? ""
                                : absl::StrFormat(" | router_aux %.4f", m.router_aux_loss);
    const std::string eval =
        m.eval_tokens > 0
            ? absl::StrFormat(" | eval_loss %.4f | eval_ppl %.3f | eval_tokens %lld", m.eval_loss,
                              m.eval_perplexity, static_cast<long long>(m.eval_tokens))
            : "";
    const char* skipped = m.no_labels ? " | skipped (no label in the batch)"
                          : m.skipped ? " | skipped (fp16 overflow)"
                                      : "";
    std::printf(
        "step %lld/%lld | loss %.4f%s | lr %.3e | grad_norm %.4f | loss_scale %g | %.0f "
        "tokens/s%s%s\n",
        static_cast<long long>(m.step), static_cast<long long>(total_steps_), m.loss, aux.c_str(),
        m.lr, m.grad_norm, m.loss_scale, m.tokens_per_s, eval.c_str(), skipped);
  }
  std::fflush(stdout);
}

void RunLog::PrintSummary(const MemoryStats& m) const {
  if (!enabled_) return;
  std::printf(
      "rank 0 keeps: params %s, grads %s, optimizer %s; peak gathered %s; pinned host %s; "
      "RSS %s; GPU peak %s\n",
      Bytes(m.param_shard_bytes).c_str(), Bytes(m.grad_shard_bytes).c_str(),
      Bytes(m.optimizer_shard_bytes).c_str(), Bytes(m.peak_gathered_bytes).c_str(),
      Bytes(m.pinned_host_bytes).c_str(), Bytes(m.rss_bytes).c_str(),
      Bytes(m.gpu_peak_bytes).c_str());
  std::fflush(stdout);
}

}  // namespace zerod::daemon
