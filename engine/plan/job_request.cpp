#include "engine/plan/job_request.h"

namespace zerod::plan {

ActivationShape ShapeOf(const models::ModelConfig& model) {
  ActivationShape s;
  if (const models::DecoderConfig* c = model.decoder()) {
    s.layers = c->num_hidden_layers;
    s.hidden = c->hidden_size;
    s.ffn = c->intermediate_size;
    s.q_width = c->num_attention_heads * c->head_dim;
    s.kv_width = c->num_key_value_heads * c->head_dim;
    s.vocab = c->vocab_size;
    s.gated_mlp = true;
    s.heads = c->num_attention_heads;
    s.block_norms = 0;
    for (const std::string* n : {&c->norms.before_attention, &c->norms.after_attention,
                                 &c->norms.before_mlp, &c->norms.after_mlp}) {
      s.block_norms += !n->empty();
    }
    if (c->qk_norm != models::QkNorm::kNone) s.qk_norm_width = s.q_width + s.kv_width;
    s.softcap_attention = c->attn_softcap > 0;
    bool all_windowed = c->num_hidden_layers > 0;
    for (int64_t i = 0; i < c->num_hidden_layers; ++i) all_windowed &= c->WindowOf(i) > 0;
    s.window = all_windowed ? c->sliding_window : 0;
    for (int64_t i = 0; i < c->num_hidden_layers; ++i) {
      s.sparse_layers += c->IsSparse(i);
      s.expert_units += c->ExpertUnits(i) - 1;
    }
    s.experts = c->moe.num_experts;
    s.top_k = c->moe.top_k;
    s.expert_ffn = c->moe.expert_intermediate_size;
    s.shared_ffn = c->moe.shared_expert_intermediate_size;
  } else if (const models::Gpt2Config* c = model.gpt2()) {
    s.layers = c->n_layer;
    s.hidden = c->n_embd;
    s.ffn = c->n_inner;
    s.q_width = c->n_embd;
    s.kv_width = c->n_embd;
    s.vocab = c->vocab_size;
    s.gated_mlp = false;
    s.heads = c->n_head;
  }
  return s;
}

namespace {

Choice ToChoice(config::OffloadDevice d) {
  switch (d) {
    case config::OffloadDevice::kCpu:
      return Choice::kCpu;
    case config::OffloadDevice::kAuto:
      return Choice::kAuto;
    default:
      return Choice::kNone;
  }
}

}  // namespace

Request MakeRequest(const config::DsConfig& ds, const models::ModelConfig& model,
                    std::vector<UnitShape> units, const JobFacts& f) {
  Request r;
  r.units = std::move(units);
  r.shape = ShapeOf(model);
  r.world_size = f.world_size;
  r.ranks_per_host = f.ranks_per_host;
  r.micro_batch = ds.micro_batch_per_gpu;
  r.seq_len = f.seq_len;
  r.grad_accum = ds.gradient_accumulation_steps;
  r.activation_checkpointing = f.activation_checkpointing;
  r.compute_dtype = ds.compute_dtype;
  r.reduce_dtype = f.reduce_in_compute_dtype ? ds.compute_dtype : DType::kFloat32;
  r.gpu = f.gpu;
  r.gpu_bytes = f.gpu_bytes;
  r.host_bytes = f.host_bytes;
  r.offload_param = ToChoice(ds.zero.offload_param.device);
  r.optimizer_ratio = ds.zero.offload_optimizer.ratio;
  r.prefetch_bucket_numel = ds.zero.prefetch_bucket_size;
  r.max_live_numel = ds.zero.max_live_parameters;
  r.speculative_update = ds.zero.overlap_optimizer && ds.zero.speculative_update;
  r.persistence_threshold_numel = ds.zero.param_persistence_threshold;
  r.derived_weights = ds.zero.derived_weights;
  r.derived_host_weights = ds.zero.derived_host_weights;
  r.delayed_update = ds.zero.delayed_update;
  return r;
}

}  // namespace zerod::plan
