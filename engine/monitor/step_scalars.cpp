#include "engine/monitor/step_scalars.h"

#include <cmath>

namespace zerod::monitor {

// Note [x axis]: DeepSpeed's engine writes its Train/Samples/* scalars against
// global_samples, the samples consumed so far. It writes lr and loss_scale after the
// optimizer step has counted the step's batch (x = step * train_batch_size), and, in its
// ZeRO engine up to v0.18.2, train_loss from backward(), before the step counts it
// (x = (step - 1) * train_batch_size: the loss of the weights that had seen that many
// samples). Later versions write no train_loss from that engine; the pipeline engine
// writes it after the step. zerod follows the ZeRO engine that users compare against,
// so a zerod curve lies on top of a DeepSpeed one. zerod's own scalars describe the step
// as a whole and sit where lr does.
std::vector<Scalar> StepScalars(const StepMetrics& m, const JobFacts& job) {
  const int64_t before = (m.step - 1) * job.train_batch_size;
  const int64_t after = m.step * job.train_batch_size;
  constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
  std::vector<Scalar> out = {
      {"Train/Samples/train_loss", m.loss, before},
      {"Train/Samples/lr", m.lr, after},
  };
  if (job.fp16) out.push_back({"Train/Samples/loss_scale", m.loss_scale, after});
  if (!std::isnan(m.router_aux_loss))
    out.push_back({"zerod/router_aux_loss", m.router_aux_loss, after});
  // Model FLOPs: 6 per parameter per token (forward 2, backward 4), the usual estimate;
  // attention's own FLOPs and activation-checkpointing's recompute are not counted.
  const double model_tflops = 6.0 * static_cast<double>(job.num_parameters) * m.tokens_per_s / 1e12;
  const std::vector<Scalar> own = {
      {"zerod/grad_norm", m.grad_norm, after},
      {"zerod/throughput/tokens_per_s", m.tokens_per_s, after},
      {"zerod/throughput/model_tflops_per_s", model_tflops, after},
      {"zerod/time/step_s", m.step_seconds, after},
      {"zerod/time/forward_s", m.forward_seconds, after},
      {"zerod/time/backward_s", m.backward_seconds, after},
      {"zerod/time/optimizer_s", m.optimizer_seconds, after},
      {"zerod/time/optimizer_cpu_s", m.optimizer_cpu_seconds, after},
      {"zerod/time/transfer_wait_s", m.transfer_wait_seconds, after},
      {"zerod/time/optimizer_wait_s", m.optimizer_wait_seconds, after},
      {"zerod/memory/host_rss_GiB", static_cast<double>(m.host_rss_bytes) / kGiB, after},
      {"zerod/memory/host_peak_rss_GiB", static_cast<double>(m.host_peak_rss_bytes) / kGiB, after},
  };
  out.insert(out.end(), own.begin(), own.end());
  // An evaluation after the step (fine-tuning's --eval-every): the weights that have seen
  // `after` samples, as the Trainer's eval_loss is logged at the step it follows.
  if (m.eval_tokens > 0) {
    out.push_back({"Eval/loss", m.eval_loss, after});
    out.push_back({"Eval/ppl", m.eval_perplexity, after});
    out.push_back({"Eval/tokens", static_cast<double>(m.eval_tokens), after});
  }
  if (m.label_tokens > 0)
    out.push_back({"zerod/label_tokens", static_cast<double>(m.label_tokens), after});
  if (job.gpu) {  // always 0 on the CPU
    out.push_back({"zerod/time/optimizer_gpu_s", m.optimizer_gpu_seconds, after});
    out.push_back(
        {"zerod/memory/gpu_peak_GiB", static_cast<double>(m.gpu_peak_bytes) / kGiB, after});
  }
  return out;
}

}  // namespace zerod::monitor
