// The mixture-of-experts MLP of a sparse decoder layer (decoder_config.h, MoeConfig): the
// router, the experts computed as groups, and the router's load-balancing loss, as
// transformers' Mixtral, Qwen2-MoE, Qwen3-MoE and OLMoE compute them. Not here: which layer
// is sparse or what the checkpoint calls things (the family descriptions), nor sharding
// (the engine never sees experts apart from their parameters).
//
// Experts as groups: the N*k (token, expert) pairs of a batch are sorted by expert once per
// layer (a stable sort, so within an expert tokens keep their order); every expert then
// runs on one contiguous slice of the sorted rows. On a CUDA device with bfloat16 weights
// the three projections of all experts are each one grouped GEMM (at::_grouped_mm with
// the slices' end offsets, forward and backward through its autograd formula); elsewhere
// (CPU, float32) each expert is one matrix product over its slice: the reference path,
// which loops over experts, never over tokens.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "engine/models/decoder_config.h"

namespace zerod::models {

// One layer's routing of N tokens.
struct Routing {
  torch::Tensor logits;   // (N, E) in x's dtype, with autograd history
  torch::Tensor probs;    // (N, E) float32: their softmax
  torch::Tensor weights;  // (N, k): the chosen experts' weights (float32 or the model dtype)
  torch::Tensor experts;  // (N, k) int64: the chosen experts, largest probability first
  int64_t num_experts = 0;
};

// p = softmax(x router^T) in float32, its top k, renormalised when norm_topk_prob, then
// rounded to x's dtype unless weights_in_float32. x (N, C), router_weight (E, C).
Routing Route(const torch::Tensor& x, const torch::Tensor& router_weight, const MoeConfig& moe);

// Each expert's projections (the parameters themselves, in expert order):
// gate[e], up[e] (F, C), down[e] (C, F).
struct ExpertWeights {
  std::vector<torch::Tensor> gate, up, down;
};

// sum over each token's k experts of weight * down_e(act(gate_e(x)) * up_e(x)), summed in
// the output dtype (x's) as transformers' index_add_ does: x (N, C) -> (N, C). An expert
// no token chose takes no part: its parameters get no gradient (undefined, which the
// engine counts as zero; see zero_engine.h, Note [unused experts]). `w` may hold only
// experts [first_expert, first_expert + w.gate.size()) of the layer (a group of them as a
// unit of its own): the pairs of the other experts are left out.
torch::Tensor Experts(const torch::Tensor& x, const Routing& routing, const ExpertWeights& w,
                      Activation act, int64_t first_expert = 0);

// The experts' (F, C) weights as one (E, F, C) tensor for the grouped GEMMs. The engine
// lays a unit's parameters one after another in spec order (the layer's gates, then its
// ups, then its downs: decoder.cpp, AddExperts), so where they are adjacent in one
// storage this is a view of them, not a copy of the layer's experts (at 64 experts, 0.8 GB
// per layer and pass); elsewhere torch::stack. Autograd gives each expert its slice.
torch::Tensor StackExperts(const std::vector<torch::Tensor>& w);

// Router statistics of one sparse layer's forward, what the load-balancing loss needs,
// computed as load_balancing_loss_func does from the router logits (softmax in the
// logits' dtype, its own top k): the sum over tokens of each expert's probability (E)
// float32 with autograd history, and how many of the top-k picks each expert got (E)
// float32 (no history).
struct RouterStats {
  torch::Tensor prob_sum;
  torch::Tensor picks;
  int64_t tokens = 0;
  bool defined() const { return prob_sum.defined(); }
};
RouterStats StatsOf(const Routing& routing, int64_t top_k);

// transformers' load_balancing_loss_func over the layers' statistics (no attention mask):
// E * sum_e (picks_e / rows) * (prob_sum_e / rows), with picks and prob_sum summed over
// the layers and rows = the layers' token count summed. A scalar float32 with autograd
// history through every prob_sum; undefined when `layers` is empty.
torch::Tensor RouterAuxLoss(const std::vector<RouterStats>& layers);

}  // namespace zerod::models
