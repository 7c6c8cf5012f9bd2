// A made-up finished job for the client's output tests: `steps` steps of a loss falling
// linearly from 4 to 2, a warm-up learning rate, fixed step parts, two ranks' memory.
#pragma once

#include <algorithm>

#include "client/report_html.h"

namespace zerod::client {

inline ReportInput SyntheticJob(int steps) {
  constexpr int64_t kMiB = 1 << 20;
  ReportInput in;
  v1::JobStatus& j = in.job;
  j.set_job_id("job-7");
  j.set_name("synthetic");
  j.set_state(v1::SUCCEEDED);
  j.set_steps_done(steps);
  j.set_steps_total(steps);
  j.mutable_spec()->set_model_dir("/models/tiny-llama");
  j.mutable_spec()->set_ds_config_path("/cfg/ds.json");
  j.mutable_spec()->set_data_path("/data/corpus.bin");
  j.mutable_spec()->set_seq_len(32);
  j.set_num_parameters(1234567);
  j.set_world_size(2);
  j.set_device("cpu");
  j.set_dtype("float32");
  j.set_submitted_unix(1.7e9);
  j.set_started_unix(1.7e9 + 2);
  j.set_finished_unix(1.7e9 + 2 + 0.5 * steps);
  for (int i = 1; i <= steps; ++i) {
    v1::StepMetrics& s = in.steps.emplace_back();
    s.set_step(i);
    s.set_loss(4.0 - 2.0 * (i - 1) / std::max(steps - 1, 1));
    s.set_lr(1e-3 * std::min(1.0, i / 5.0));
    s.set_grad_norm(1.0 / i);
    s.set_tokens_per_s(1000 + 10 * i);
    s.set_step_seconds(0.5);
    s.set_forward_seconds(0.2);
    s.set_backward_seconds(0.15);
    s.set_optimizer_seconds(0.1);
    s.set_transfer_wait_seconds(0.01);
    s.set_optimizer_wait_seconds(0.02);
    s.set_host_rss_bytes((200 + i) * kMiB);
    s.set_host_peak_rss_bytes((220 + i) * kMiB);
  }
  in.memory.set_job_id("job-7");
  in.memory.set_step(steps);
  for (int r = 0; r < 2; ++r) {
    v1::RankMemory& m = *in.memory.add_ranks();
    m.set_rank(r);
    m.set_device("cpu");
    m.set_rss_bytes((200 + 100 * r) * kMiB);
    m.set_param_shard_bytes(2 * kMiB);
  }
  return in;
}

}  // namespace zerod::client
