#include "engine/zero/unit_function.h"

#include "engine/zero/zero_engine.h"

namespace zerod::zero {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

ZeroEngine* EngineOf(AutogradContext* ctx) {
  return reinterpret_cast<ZeroEngine*>(ctx->saved_data["engine"].toInt());
}

// A detached copy of the unit's input that autograd can differentiate with respect to
// (integer ids cannot require grad).
torch::Tensor InnerInput(const torch::Tensor& input) {
  torch::Tensor x = input.detach();
  if (x.is_floating_point()) x.requires_grad_(true);
  return x;
}

// The unit's output, or its per-token losses when `targets` is not empty.
torch::Tensor RunInner(models::Unit& unit, const torch::Tensor& x, const torch::Tensor& targets,
                       const models::SequenceLayout& layout) {
  return targets.numel() > 0 ? unit.ForwardLoss(x, targets, layout) : unit.Forward(x, layout);
}

// The micro-batch's layout kept for the recomputation (Note [layout of a pass]).
void SaveLayout(AutogradContext* ctx, const models::SequenceLayout& layout) {
  if (layout.positions.defined()) ctx->saved_data["positions"] = layout.positions;
  if (layout.cu_seqlens.defined()) ctx->saved_data["cu_seqlens"] = layout.cu_seqlens;
  ctx->saved_data["max_seqlen"] = layout.max_seqlen;
}
models::SequenceLayout SavedLayout(AutogradContext* ctx) {
  models::SequenceLayout layout;
  if (ctx->saved_data.count("positions"))
    layout.positions = ctx->saved_data["positions"].toTensor();
  if (ctx->saved_data.count("cu_seqlens"))
    layout.cu_seqlens = ctx->saved_data["cu_seqlens"].toTensor();
  layout.max_seqlen = ctx->saved_data["max_seqlen"].toInt();
  return layout;
}

// The second output of a unit that does not route: nothing.
torch::Tensor NoRouter() { return torch::empty({0}, torch::kFloat32); }

class UnitFunction : public torch::autograd::Function<UnitFunction> {
 public:
  // Returns {the unit's output, its router's prob_sum (E) or an empty tensor}; the picks
  // and token count of the router go to `router` (a pointer, not differentiable).
  // `layout_ptr`: the SequenceLayout of the pass, read during the call only.
  static variable_list forward(AutogradContext* ctx, torch::Tensor input, torch::Tensor anchor,
                               torch::Tensor targets, int64_t engine_ptr, int64_t index,
                               int64_t router_ptr, int64_t layout_ptr) {
    auto* engine = reinterpret_cast<ZeroEngine*>(engine_ptr);
    const auto& layout = *reinterpret_cast<const models::SequenceLayout*>(layout_ptr);
    ctx->saved_data["engine"] = engine_ptr;
    ctx->saved_data["index"] = index;
    ctx->saved_data["targets"] = targets;
    engine->FetchForRun(static_cast<int>(index), /*backward=*/false);
    models::Unit& unit = engine->unit(static_cast<int>(index));
    torch::Tensor out;
    models::RouterStats router;
    // Note [recomputation]: a unit the placement marks (recompute: all of them for
    // --activation-checkpointing on, the first layers the plan chose for auto) keeps only
    // its input and runs again with grad in backward. The same kernels on the same inputs
    // and weights (a unit holds no randomness: no dropout) give bitwise the activations a
    // kept graph holds, so a run's gradients, weights and losses do not depend on which
    // units recompute (PlacementTest.PlanChosenCheckpointingGivesBitwiseTheSameWeights).
    if (engine->recomputes(static_cast<int>(index))) {
      // Keep only the input; backward recomputes the unit with grad.
      torch::NoGradGuard no_grad;
      out = RunInner(unit, input, targets, layout);
      router = unit.TakeRouterStats();
      ctx->saved_data["input"] = input.detach();
      SaveLayout(ctx, layout);
    } else {
      // Keep the unit's own graph. What it saved of the parameters are views of the
      // gathered buffer, whose storage the engine frees and restores in place
      // (param_group.h, Note [storage swap]), so releasing below really frees memory.
      torch::AutoGradMode grad_on(true);
      torch::Tensor x = InnerInput(input);
      out = RunInner(unit, x, targets, layout);
      router = unit.TakeRouterStats();
      ctx->saved_data["inner_input"] = x;
      ctx->saved_data["inner_output"] = out;
      if (router.defined()) ctx->saved_data["inner_router"] = router.prob_sum;
    }
    engine->AfterForward(static_cast<int>(index));
    torch::Tensor prob_sum = NoRouter();
    if (router.defined()) {
      prob_sum = router.prob_sum.detach();
      *reinterpret_cast<models::RouterStats*>(router_ptr) = router;
    } else {
      ctx->mark_non_differentiable({prob_sum});
    }
    return {out.detach(), prob_sum};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    ZeroEngine* engine = EngineOf(ctx);
    const int index = static_cast<int>(ctx->saved_data["index"].toInt());
    engine->FetchForRun(index, /*backward=*/true);
    models::Unit& unit = engine->unit(index);

    torch::Tensor x, out, prob_sum;
    torch::AutoGradMode grad_on(true);
    if (engine->recomputes(index)) {
      x = InnerInput(ctx->saved_data["input"].toTensor());
      out = RunInner(unit, x, ctx->saved_data["targets"].toTensor(), SavedLayout(ctx));
      prob_sum = unit.TakeRouterStats().prob_sum;
    } else {
      x = ctx->saved_data["inner_input"].toTensor();
      out = ctx->saved_data["inner_output"].toTensor();
      if (ctx->saved_data.count("inner_router"))
        prob_sum = ctx->saved_data["inner_router"].toTensor();
    }
    for (const char* k : {"input", "inner_input", "inner_output", "inner_router", "targets",
                          "positions", "cu_seqlens", "max_seqlen"})
      ctx->saved_data.erase(k);
    // The router's share: the gradient of a loss on its prob_sum (the load-balancing loss),
    // when one was built.
    variable_list outputs = {out}, output_grads = {grad_outputs[0]};
    if (prob_sum.defined() && grad_outputs.size() > 1 && grad_outputs[1].defined() &&
        grad_outputs[1].numel() > 0) {
      outputs.push_back(prob_sum);
      output_grads.push_back(grad_outputs[1]);
    }

    // Gradients for the unit's own parameters, then for those it borrows (tied weights).
    variable_list inputs = unit.params();
    inputs.insert(inputs.end(), unit.borrowed_params().begin(), unit.borrowed_params().end());
    const bool wants_input_grad = x.requires_grad();
    if (wants_input_grad) inputs.push_back(x);
    variable_list grads = torch::autograd::grad(outputs, inputs, output_grads,
                                                /*retain_graph=*/false, /*create_graph=*/false,
                                                /*allow_unused=*/true);
    torch::Tensor input_grad = wants_input_grad ? grads.back() : torch::Tensor();
    if (wants_input_grad) grads.pop_back();
    engine->AfterBackward(index, grads);
    return {input_grad,      torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

UnitOutput RunUnit(ZeroEngine& engine, int index, const torch::Tensor& input,
                   const torch::Tensor& anchor, const torch::Tensor& targets,
                   const models::SequenceLayout& layout) {
  UnitOutput o;
  variable_list outs = UnitFunction::apply(
      input, anchor, targets, reinterpret_cast<int64_t>(&engine), static_cast<int64_t>(index),
      reinterpret_cast<int64_t>(&o.router), reinterpret_cast<int64_t>(&layout));
  o.out = outs[0];
  if (o.router.defined()) o.router.prob_sum = outs[1];
  return o;
}

}  // namespace zerod::zero
