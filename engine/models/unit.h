// A unit is the piece of a model that ZeRO-3 gathers and releases as a whole: the
// embedding, one decoder block, or the final norm with the LM head. A unit is plain
// LibTorch code: it reads its parameters and never calls a collective.
//
// Parameters are leaf tensors that exist before they have storage: a unit declares
// each one's name and shape (ParamSpec), and the engine (ParamGroup) binds them to
// views of a gathered flat buffer. That is what lets a 7B model be built on a rank that
// never holds all of it.
//
// Note [tied weights]: a model whose LM head reads the embedding matrix
// (tie_word_embeddings) has one parameter used by two units. The parameter belongs to the
// unit that declares it (the embedding, unit 0), so it sits in that unit's ParamGroup
// and is loaded, sharded, updated and exported once. The head *borrows* it: Borrow()
// hands the head the owner's very handle, so the owner's group binds it for both. The
// engine then (zero_engine.h) gathers the owner's group whenever the head runs too, and
// holds the head's gradient for it until the owner's backward has added its own: the
// group is reduce-scattered once, with the sum of both uses, exactly as autograd would
// accumulate a shared leaf. Backward runs units in reverse, so the owner (first unit)
// always delivers last.
//
// Note [layout of a pass]: how the batch's rows divide into documents (sequence_layout.h)
// is an argument of every Forward, beside the one tensor units hand each other, and goes
// down to the units that care (embedding positions, attention, RoPE); the others ignore
// it. Nothing in a unit keeps it after the call: what the backward needs of it, autograd
// saved with the graph (masks, cu_seqlens), and a recomputation (activation
// checkpointing) is handed the layout again by its caller, which saved it with the
// micro-batch (zero/unit_function.cpp). So two micro-batches in flight cannot mix theirs.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/models/moe.h"
#include "engine/models/sequence_layout.h"

namespace zerod::models {

enum class ParamInit { kNormal, kOnes, kZeros };  // transformers' _init_weights choices

struct ParamSpec {
  std::string name;            // full Hugging Face name, "model.layers.0.mlp.up_proj.weight"
  std::vector<int64_t> shape;  // e.g. (intermediate, hidden)
  ParamInit init = ParamInit::kNormal;
  double std_scale = 1.0;  // kNormal: std = initializer_range * std_scale (GPT-2's c_proj)
  int64_t zero_row = -1;   // kNormal: this row starts at zero (an embedding's padding_idx)
};

// A parameter a unit reads but another unit owns (Note [tied weights]).
struct BorrowedParam {
  int owner = 0;     // index of the owning unit in the model's unit list
  size_t index = 0;  // the parameter's index in the owner's specs()
};

class Unit {
 public:
  // `layer`: the decoder layer the unit computes (part of); -1 for the others.
  explicit Unit(std::string name, int layer = -1) : name_(std::move(name)), layer_(layer) {}
  virtual ~Unit() = default;
  Unit(const Unit&) = delete;
  Unit& operator=(const Unit&) = delete;

  // input: token ids (B, T) int64 for the first unit, hidden states (B, T, C) after it.
  // Every parameter it reads (its own and the borrowed) must be bound to storage that
  // holds values: a released group's storage has none (Note [storage swap],
  // zero/param_group.h); checked, then Run. `layout`: the rows' documents (Note [layout
  // of a pass]); empty for one document per row.
  torch::Tensor Forward(const torch::Tensor& input, const SequenceLayout& layout = {});
  // The last unit only: per-token losses (B, T) float32 of next-token `targets` (B, T)
  // int64, its output consumed by the loss without existing whole (the head's logits:
  // lm_loss.h); a target of kIgnoreIndex (-100) is no label and its loss is 0. Checked
  // like Forward, then RunLoss.
  torch::Tensor ForwardLoss(const torch::Tensor& input, const torch::Tensor& targets,
                            const SequenceLayout& layout = {});

  const std::string& name() const { return name_; }
  int layer() const { return layer_; }
  const std::vector<ParamSpec>& specs() const { return specs_; }
  // Parameter handles in spec order. Rebinding one (set_data) rebinds every copy.
  const std::vector<torch::Tensor>& params() const { return params_; }
  int64_t numel() const;  // owned parameters only
  // Parameters of other units this one reads, and their handles (same order).
  const std::vector<BorrowedParam>& borrowed() const { return borrowed_; }
  // A mixture-of-experts block's router statistics from its last Forward (moe.h), handed
  // over once (the next call returns none); none for every other unit.
  virtual RouterStats TakeRouterStats() { return {}; }
  const std::vector<torch::Tensor>& borrowed_params() const { return borrowed_params_; }

 protected:
  // Declares parameter "<unit name>.<local_name>"; returns its handle (no storage until bound).
  torch::Tensor AddParam(const std::string& local_name, std::vector<int64_t> shape, ParamInit init,
                         double std_scale = 1.0, int64_t zero_row = -1);
  // The same with the full name spelled out, for a parameter named outside the unit's
  // prefix (lm_head.weight lives in the "model.norm" unit).
  torch::Tensor AddParamNamed(std::string full_name, std::vector<int64_t> shape, ParamInit init,
                              double std_scale = 1.0, int64_t zero_row = -1);
  // Reads parameter `index` of `owner`, unit number `owner_index` of the same model;
  // returns the owner's handle (Note [tied weights]).
  torch::Tensor Borrow(const Unit& owner, int owner_index, size_t index);
  // The unit's computation, called by Forward once its parameters hold values.
  virtual torch::Tensor Run(const torch::Tensor& input, const SequenceLayout& layout) = 0;
  // Its loss, called by ForwardLoss; by default the cross-entropy of Run's output.
  virtual torch::Tensor RunLoss(const torch::Tensor& input, const torch::Tensor& targets,
                                const SequenceLayout& layout);

 private:
  void CheckBound() const;  // every parameter it reads has storage with values
  std::string name_;        // "model.layers.3" (parameter names start with it)
  int layer_ = -1;
  std::vector<ParamSpec> specs_;
  std::vector<torch::Tensor> params_;
  std::vector<BorrowedParam> borrowed_;
  std::vector<torch::Tensor> borrowed_params_;
};

// transformers' initial values for a unit, laid flat in spec order (float32, numel()):
// normal(0, std * std_scale) for weights (with an embedding's padding row at zero), ones
// for norm weights, zeros for biases. Each 4 Mi
// chunk of a weight has a generator seeded from (seed, unit name, parameter, chunk) alone,
// so every world size (and thread count) builds the same model, and chunks fill in parallel.
torch::Tensor InitialValues(const Unit& unit, uint64_t seed, double std);

// Gives every parameter of `unit` storage of its own, as views of one flat buffer of
// `dtype` filled from `flat` (float32, numel()). For plain (unsharded) training and tests.
void BindPlain(Unit& unit, const torch::Tensor& flat, torch::ScalarType dtype);

}  // namespace zerod::models
