#include "proto/wire.h"

namespace zerod::wire {

v1::JobSpec ToProto(const JobSpec& s) {
  v1::JobSpec p;
  p.set_model_dir(s.model_dir);
  p.set_ds_config_path(s.ds_config_path);
  p.set_ds_config_json(s.ds_config_json);
  p.set_data_path(s.data_path);
  p.set_data_dtype(s.data_dtype);
  p.set_steps(s.steps);
  p.set_seq_len(s.seq_len);
  p.set_seed(s.seed);
  p.set_activation_checkpointing(s.activation_checkpointing);
  p.set_start_paused(s.start_paused);
  p.set_resume_from(s.resume_from);
  p.set_save_dir(s.save_dir);
  p.set_export_hf_dir(s.export_hf_dir);
  p.set_name(s.name);
  if (s.micro_batch_size) p.set_micro_batch_size(*s.micro_batch_size);
  if (s.grad_accum) p.set_grad_accum(*s.grad_accum);
  if (s.lr) p.set_lr(*s.lr);
  if (s.warmup_steps) p.set_warmup_steps(*s.warmup_steps);
  p.set_precision(s.precision);
  p.set_save_every(s.save_every);
  p.set_keep_checkpoints(s.keep_checkpoints);
  p.set_tensorboard_dir(s.tensorboard_dir);
  p.set_init(s.init);
  return p;
}

JobSpec FromProto(const v1::JobSpec& p) {
  JobSpec s;
  s.model_dir = p.model_dir();
  s.ds_config_path = p.ds_config_path();
  s.ds_config_json = p.ds_config_json();
  s.data_path = p.data_path();
  if (!p.data_dtype().empty()) s.data_dtype = p.data_dtype();
  s.steps = p.steps();  // required: 0 is refused by ValidateJobSpec, not defaulted
  if (p.has_seq_len()) s.seq_len = p.seq_len();
  if (p.has_seed()) s.seed = p.seed();
  s.activation_checkpointing = p.activation_checkpointing();
  s.start_paused = p.start_paused();
  s.resume_from = p.resume_from();
  s.save_dir = p.save_dir();
  s.export_hf_dir = p.export_hf_dir();
  s.name = p.name();
  if (p.has_micro_batch_size()) s.micro_batch_size = p.micro_batch_size();
  if (p.has_grad_accum()) s.grad_accum = p.grad_accum();
  if (p.has_lr()) s.lr = p.lr();
  if (p.has_warmup_steps()) s.warmup_steps = p.warmup_steps();
  s.precision = p.precision();
  s.save_every = p.save_every();
  if (p.has_keep_checkpoints()) s.keep_checkpoints = p.keep_checkpoints();
  s.tensorboard_dir = p.tensorboard_dir();
  if (!p.init().empty()) s.init = p.init();
  return s;
}

v1::StepMetrics ToProto(const StepMetrics& m) {
  v1::StepMetrics p;
  p.set_step(m.step);
  p.set_loss(m.loss);
  p.set_lr(m.lr);
  p.set_grad_norm(m.grad_norm);
  p.set_loss_scale(m.loss_scale);
  p.set_skipped(m.skipped);
  p.set_step_seconds(m.step_seconds);
  p.set_tokens_per_s(m.tokens_per_s);
  p.set_gpu_peak_bytes(m.gpu_peak_bytes);
  p.set_forward_seconds(m.forward_seconds);
  p.set_backward_seconds(m.backward_seconds);
  p.set_optimizer_seconds(m.optimizer_seconds);
  p.set_optimizer_cpu_seconds(m.optimizer_cpu_seconds);
  p.set_optimizer_gpu_seconds(m.optimizer_gpu_seconds);
  p.set_transfer_wait_seconds(m.transfer_wait_seconds);
  p.set_optimizer_wait_seconds(m.optimizer_wait_seconds);
  p.set_host_rss_bytes(m.host_rss_bytes);
  p.set_host_peak_rss_bytes(m.host_peak_rss_bytes);
  p.set_saved_checkpoint(m.saved_checkpoint);
  p.set_checkpoint_error(m.checkpoint_error);
  return p;
}

StepMetrics FromProto(const v1::StepMetrics& p) {
  StepMetrics m;
  m.step = p.step();
  m.loss = p.loss();
  m.lr = p.lr();
  m.grad_norm = p.grad_norm();
  m.loss_scale = p.loss_scale();
  m.skipped = p.skipped();
  m.step_seconds = p.step_seconds();
  m.tokens_per_s = p.tokens_per_s();
  m.gpu_peak_bytes = p.gpu_peak_bytes();
  m.forward_seconds = p.forward_seconds();
  m.backward_seconds = p.backward_seconds();
  m.optimizer_seconds = p.optimizer_seconds();
  m.optimizer_cpu_seconds = p.optimizer_cpu_seconds();
  m.optimizer_gpu_seconds = p.optimizer_gpu_seconds();
  m.transfer_wait_seconds = p.transfer_wait_seconds();
  m.optimizer_wait_seconds = p.optimizer_wait_seconds();
  m.host_rss_bytes = p.host_rss_bytes();
  m.host_peak_rss_bytes = p.host_peak_rss_bytes();
  m.saved_checkpoint = p.saved_checkpoint();
  m.checkpoint_error = p.checkpoint_error();
  return m;
}

v1::RankMemory ToProto(const MemoryStats& m, int rank, const std::string& device) {
  v1::RankMemory p;
  p.set_rank(rank);
  p.set_device(device);
  p.set_gpu_allocated_bytes(m.gpu_allocated_bytes);
  p.set_gpu_reserved_bytes(m.gpu_reserved_bytes);
  p.set_gpu_peak_bytes(m.gpu_peak_bytes);
  p.set_pinned_host_bytes(m.pinned_host_bytes);
  p.set_pageable_host_bytes(m.pageable_host_bytes);
  p.set_rss_bytes(m.rss_bytes);
  p.set_param_shard_bytes(m.param_shard_bytes);
  p.set_grad_shard_bytes(m.grad_shard_bytes);
  p.set_optimizer_shard_bytes(m.optimizer_shard_bytes);
  p.set_gathered_bytes(m.gathered_bytes);
  return p;
}

}  // namespace zerod::wire
