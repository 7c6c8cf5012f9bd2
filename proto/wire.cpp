#include "proto/wire.h"

#include <optional>
#include <type_traits>
#include <variant>
#include <vector>

#include "engine/config/job_fields.h"
#include "engine/util/check.h"
#include "engine/util/value_type.h"

namespace zerod::wire {

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;

// The message field named `name`: the struct's member of the same name. One the message
// lacks is a bug (tests/config/job_fields_test.cpp walks both), checked here too, so that it
// never sends junk.
const FieldDescriptor* FieldNamed(const Message& m, const char* name) {
  const FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(name);
  ZEROD_CHECK(f != nullptr);
  return f;
}

// How a scalar of C++ type T goes into and out of a message field, by reflection: the
// Reflection setter and getter named after it.
template <typename T>
struct ScalarAccess;
#define ZEROD_SCALAR_ACCESS(T, Name)                                      \
  template <>                                                             \
  struct ScalarAccess<T> {                                                \
    static constexpr auto set = &google::protobuf::Reflection::Set##Name; \
    static constexpr auto get = &google::protobuf::Reflection::Get##Name; \
  };
ZEROD_SCALAR_ACCESS(std::string, String)
ZEROD_SCALAR_ACCESS(bool, Bool)
ZEROD_SCALAR_ACCESS(int64_t, Int64)
ZEROD_SCALAR_ACCESS(uint64_t, UInt64)
ZEROD_SCALAR_ACCESS(double, Double)
#undef ZEROD_SCALAR_ACCESS

template <typename T>
void SetScalar(Message& m, const FieldDescriptor* f, const T& v) {
  (m.GetReflection()->*ScalarAccess<T>::set)(&m, f, v);
}

template <typename T>
T GetScalar(const Message& m, const FieldDescriptor* f) {
  return (m.GetReflection()->*ScalarAccess<T>::get)(m, f);
}

// A plain struct's scalar members under their message fields' names: one list serves both
// directions.
template <typename S>
struct NamedMember {
  const char* name;
  std::variant<int64_t S::*, double S::*, bool S::*, std::string S::*> member;
};

template <typename S>
void PutAll(const S& s, const std::vector<NamedMember<S>>& members, Message& m) {
  for (const NamedMember<S>& n : members) {
    std::visit([&](auto member) { SetScalar(m, FieldNamed(m, n.name), s.*member); }, n.member);
  }
}

template <typename S>
void TakeAll(const Message& m, const std::vector<NamedMember<S>>& members, S& s) {
  for (const NamedMember<S>& n : members) {
    std::visit(
        [&](auto member) {
          using T = std::decay_t<decltype(s.*member)>;
          s.*member = GetScalar<T>(m, FieldNamed(m, n.name));
        },
        n.member);
  }
}

const std::vector<NamedMember<StepMetrics>>& StepMembers() {
  using M = StepMetrics;
  static const auto* members = new std::vector<NamedMember<M>>{
      {"step", &M::step},
      {"loss", &M::loss},
      {"lr", &M::lr},
      {"grad_norm", &M::grad_norm},
      {"loss_scale", &M::loss_scale},
      {"skipped", &M::skipped},
      {"step_seconds", &M::step_seconds},
      {"tokens_per_s", &M::tokens_per_s},
      {"gpu_peak_bytes", &M::gpu_peak_bytes},
      {"forward_seconds", &M::forward_seconds},
      {"backward_seconds", &M::backward_seconds},
      {"optimizer_seconds", &M::optimizer_seconds},
      {"optimizer_cpu_seconds", &M::optimizer_cpu_seconds},
      {"optimizer_gpu_seconds", &M::optimizer_gpu_seconds},
      {"transfer_wait_seconds", &M::transfer_wait_seconds},
      {"optimizer_wait_seconds", &M::optimizer_wait_seconds},
      {"host_rss_bytes", &M::host_rss_bytes},
      {"host_peak_rss_bytes", &M::host_peak_rss_bytes},
      {"saved_checkpoint", &M::saved_checkpoint},
      {"checkpoint_error", &M::checkpoint_error},
      {"label_tokens", &M::label_tokens},
      {"no_labels", &M::no_labels},
      {"eval_loss", &M::eval_loss},
      {"eval_perplexity", &M::eval_perplexity},
      {"eval_tokens", &M::eval_tokens},
      {"router_aux_loss", &M::router_aux_loss},
      {"speculated_units", &M::speculated_units},
      {"undone_units", &M::undone_units},
      {"undo_seconds", &M::undo_seconds},
      {"delayed_units", &M::delayed_units},
      {"gradient_wait_seconds", &M::gradient_wait_seconds},
      {"unused_experts", &M::unused_experts},
  };
  return *members;
}

const std::vector<NamedMember<MemoryStats>>& MemoryMembers() {
  using M = MemoryStats;
  static const auto* members = new std::vector<NamedMember<M>>{
      {"gpu_allocated_bytes", &M::gpu_allocated_bytes},
      {"gpu_reserved_bytes", &M::gpu_reserved_bytes},
      {"gpu_peak_bytes", &M::gpu_peak_bytes},
      {"pinned_host_bytes", &M::pinned_host_bytes},
      {"pageable_host_bytes", &M::pageable_host_bytes},
      {"rss_bytes", &M::rss_bytes},
      {"param_shard_bytes", &M::param_shard_bytes},
      {"grad_shard_bytes", &M::grad_shard_bytes},
      {"optimizer_shard_bytes", &M::optimizer_shard_bytes},
      {"gathered_bytes", &M::gathered_bytes},
  };
  return *members;
}

}  // namespace

// A job's spec goes by the table of its fields (job_fields.h), which also says how each
// one's "unset" is written.
v1::JobSpec ToProto(const JobSpec& s) {
  v1::JobSpec p;
  for (const config::JobField& f : config::JobFields()) {
    if (config::FieldIsUnset(f, s)) continue;  // an unset optional stays absent
    std::visit(
        [&](auto member) {
          const auto& v = s.*member;
          using T = std::decay_t<decltype(v)>;
          if constexpr (kIsOptional<T>) {
            SetScalar(p, FieldNamed(p, f.name), *v);  // an optional, set (FieldIsUnset)
          } else {
            SetScalar(p, FieldNamed(p, f.name), v);
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
    const FieldDescriptor* pf = FieldNamed(p, f.name);
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
          using T = ValueTypeT<std::decay_t<decltype(s.*member)>>;
          s.*member = GetScalar<T>(p, pf);
        },
        f.member);
  }
  return s;
}

v1::StepMetrics ToProto(const StepMetrics& m) {
  v1::StepMetrics p;
  PutAll(m, StepMembers(), p);
  return p;
}

StepMetrics FromProto(const v1::StepMetrics& p) {
  StepMetrics m;
  TakeAll(p, StepMembers(), m);
  return m;
}

v1::RankMemory ToProto(const MemoryStats& m, int rank, const std::string& device) {
  v1::RankMemory p;
  p.set_rank(rank);
  p.set_device(device);
  PutAll(m, MemoryMembers(), p);
  return p;
}

}  // namespace zerod::wire
