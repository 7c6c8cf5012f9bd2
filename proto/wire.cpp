#include "proto/wire.h"

#include <type_traits>
#include <variant>

#include "engine/config/job_fields.h"
#include "engine/util/check.h"

namespace zerod::wire {

namespace {

using google::protobuf::FieldDescriptor;

// The message's field of the table's field: the same name (job_fields.h), so a field added
// to the table and to zerod.proto needs nothing here. A table field the message lacks is a
// bug caught by tests/config/job_fields_test.cpp; checked here too, so it never sends junk.
const FieldDescriptor& ProtoField(const config::JobField& f) {
  const FieldDescriptor* pf = v1::JobSpec::descriptor()->FindFieldByName(f.name);
  ZEROD_CHECK(pf != nullptr);
  return *pf;
}

}  // namespace

v1::JobSpec ToProto(const JobSpec& s) {
  v1::JobSpec p;
  const auto* r = p.GetReflection();
  for (const config::JobField& f : config::JobFields()) {
    if (config::FieldIsUnset(f, s)) continue;  // an unset optional stays absent
    const FieldDescriptor* pf = &ProtoField(f);
    std::visit(
        [&](auto member) {
          const auto& v = s.*member;
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            r->SetString(&p, pf, v);
          } else if constexpr (std::is_same_v<T, bool>) {
            r->SetBool(&p, pf, v);
          } else if constexpr (std::is_same_v<T, int64_t>) {
            r->SetInt64(&p, pf, v);
          } else if constexpr (std::is_same_v<T, uint64_t>) {
            r->SetUInt64(&p, pf, v);
          } else if constexpr (std::is_same_v<T, std::optional<int64_t>>) {
            r->SetInt64(&p, pf, *v);
          } else {
            r->SetDouble(&p, pf, *v);
          }
        },
        f.member);
  }
  return p;
}

JobSpec FromProto(const v1::JobSpec& p) {
  JobSpec s;  // its member initialisers are the defaults an unset field keeps
  const auto* r = p.GetReflection();
  for (const config::JobField& f : config::JobFields()) {
    const FieldDescriptor* pf = &ProtoField(f);
    switch (f.unset) {
      case config::WireUnset::kAbsent:
        if (!r->HasField(p, pf)) continue;
        break;
      case config::WireUnset::kEmpty:
        if (r->GetString(p, pf).empty()) continue;
        break;
      case config::WireUnset::kAsIs:
        break;
    }
    std::visit(
        [&](auto member) {
          auto& v = s.*member;
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::string>) {
            v = r->GetString(p, pf);
          } else if constexpr (std::is_same_v<T, bool>) {
            v = r->GetBool(p, pf);
          } else if constexpr (std::is_same_v<T, int64_t> ||
                               std::is_same_v<T, std::optional<int64_t>>) {
            v = r->GetInt64(p, pf);
          } else if constexpr (std::is_same_v<T, uint64_t>) {
            v = r->GetUInt64(p, pf);
          } else {
            v = r->GetDouble(p, pf);
          }
        },
        f.member);
  }
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
