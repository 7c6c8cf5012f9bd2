#include "daemon/rank_executor.h"

#include "absl/strings/str_cat.h"
#include "engine/comm/communicator.h"
#include "engine/util/proc_stats.h"

namespace zerod::daemon {
namespace {

// Packed memory layout: one int64 per field, in this order.
enum MemoryField {
  kDeviceIndex,  // CUDA device, or -1 for the CPU
  kGpuAllocated,
  kGpuReserved,
  kGpuPeak,
  kPinnedHost,
  kPageableHost,
  kRss,
  kParamShard,
  kGradShard,
  kOptimizerShard,
  kGathered,
  kMemoryFields
};

}  // namespace

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
  return p;
}

JobSpec ToEngineSpec(const v1::JobSpec& spec) {
  JobSpec s;
  s.model_dir = spec.model_dir();
  s.ds_config_path = spec.ds_config_path();
  s.ds_config_json = spec.ds_config_json();
  s.data_path = spec.data_path();
  s.data_dtype = spec.data_dtype().empty() ? "uint16" : spec.data_dtype();
  s.steps = spec.steps();
  if (spec.has_seq_len()) s.seq_len = spec.seq_len();
  if (spec.has_seed()) s.seed = spec.seed();
  s.activation_checkpointing = spec.activation_checkpointing();
  s.resume_from = spec.resume_from();
  if (spec.has_micro_batch_size()) s.micro_batch_size = spec.micro_batch_size();
  if (spec.has_grad_accum()) s.grad_accum = spec.grad_accum();
  if (spec.has_lr()) s.lr = spec.lr();
  if (spec.has_warmup_steps()) s.warmup_steps = spec.warmup_steps();
  s.precision = spec.precision();
  s.save_dir = spec.save_dir();
  s.save_every = spec.save_every();
  if (spec.has_keep_checkpoints()) s.keep_checkpoints = spec.keep_checkpoints();
  return s;
}

RankResult RankExecutor::Run(const v1::RankCommand& command) {
  if (command.kind() == v1::RankCommand::START) return Start(command);
  if (command.kind() == v1::RankCommand::FINISH || command.kind() == v1::RankCommand::SHUTDOWN) {
    job_.reset();  // frees the job's shards, pools and GPU memory
    job_id_.clear();
    return {};
  }
  if (command.kind() == v1::RankCommand::MEMORY) return {};
  if (job_ == nullptr || command.job_id() != job_id_) {
    RankResult r;
    r.status = absl::FailedPreconditionError(
        absl::StrCat("rank ", comm_->rank(), " has no job ", command.job_id(), " loaded"));
    return r;
  }
  RankResult r;
  switch (command.kind()) {
    case v1::RankCommand::STEP:
      return Step();
    case v1::RankCommand::SAVE:
      r.status = job_->SaveCheckpoint(command.dir());
      break;
    case v1::RankCommand::EXPORT:
      r.status = job_->ExportHf(command.dir());
      break;
    default:
      r.status = absl::InvalidArgumentError(absl::StrCat("unknown rank command ", command.kind()));
  }
  r.steps_done = job_->steps_done();
  return r;
}

RankResult RankExecutor::Start(const v1::RankCommand& command) {
  job_.reset();  // at most one job's memory at a time
  auto job = Job::Create(ToEngineSpec(command.spec()), comm_);
  RankResult r;
  if (!job.ok()) {
    r.status = job.status();
    return r;
  }
  job_ = std::move(job).value();
  job_id_ = command.job_id();
  steps_total_ = command.spec().steps();
  r.steps_done = job_->steps_done();
  return r;
}

RankResult RankExecutor::Step() {
  RankResult r;
  auto metrics = job_->Step();
  if (!metrics.ok()) {
    r.status = metrics.status();
  } else {
    r.metrics = *metrics;
  }
  r.steps_done = job_->steps_done();
  return r;
}

std::vector<int64_t> RankExecutor::PackedMemory() const {
  std::vector<int64_t> v(kMemoryFields, 0);
  v[kDeviceIndex] = comm_->backend() == "nccl" ? comm_->local_rank() : -1;
  v[kRss] = ResidentSetBytes();
  if (job_ == nullptr) return v;
  const MemoryStats m = job_->Memory();
  v[kGpuAllocated] = m.gpu_allocated_bytes;
  v[kGpuReserved] = m.gpu_reserved_bytes;
  v[kGpuPeak] = m.gpu_peak_bytes;
  v[kPinnedHost] = m.pinned_host_bytes;
  v[kPageableHost] = m.pageable_host_bytes;
  v[kRss] = m.rss_bytes;
  v[kParamShard] = m.param_shard_bytes;
  v[kGradShard] = m.grad_shard_bytes;
  v[kOptimizerShard] = m.optimizer_shard_bytes;
  v[kGathered] = m.gathered_bytes;
  return v;
}

std::vector<v1::RankMemory> UnpackMemory(const std::vector<int64_t>& packed, int world_size) {
  std::vector<v1::RankMemory> out;
  for (int r = 0; r < world_size; ++r) {
    const int64_t* v = packed.data() + static_cast<size_t>(r) * kMemoryFields;
    v1::RankMemory m;
    m.set_rank(r);
    m.set_device(v[kDeviceIndex] < 0 ? "cpu" : absl::StrCat("cuda:", v[kDeviceIndex]));
    m.set_gpu_allocated_bytes(v[kGpuAllocated]);
    m.set_gpu_reserved_bytes(v[kGpuReserved]);
    m.set_gpu_peak_bytes(v[kGpuPeak]);
    m.set_pinned_host_bytes(v[kPinnedHost]);
    m.set_pageable_host_bytes(v[kPageableHost]);
    m.set_rss_bytes(v[kRss]);
    m.set_param_shard_bytes(v[kParamShard]);
    m.set_grad_shard_bytes(v[kGradShard]);
    m.set_optimizer_shard_bytes(v[kOptimizerShard]);
    m.set_gathered_bytes(v[kGathered]);
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace zerod::daemon
