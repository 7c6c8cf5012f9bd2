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
torch::Tensor RunInner(models::Unit& unit, const torch::Tensor& x, const torch::Tensor& targets) {
  return targets.numel() > 0 ? unit.ForwardLoss(x, targets) : unit.Forward(x);
}

class UnitFunction : public torch::autograd::Function<UnitFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, torch::Tensor input, torch::Tensor anchor,
                               torch::Tensor targets, int64_t engine_ptr, int64_t index) {
    auto* engine = reinterpret_cast<ZeroEngine*>(engine_ptr);
    ctx->saved_data["engine"] = engine_ptr;
    ctx->saved_data["index"] = index;
    ctx->saved_data["targets"] = targets;
    engine->FetchForRun(static_cast<int>(index), /*backward=*/false);
    models::Unit& unit = engine->unit(static_cast<int>(index));
    torch::Tensor out;
    if (engine->activation_checkpointing()) {
      // Keep only the input; backward recomputes the unit with grad.
      torch::NoGradGuard no_grad;
      out = RunInner(unit, input, targets);
      ctx->saved_data["input"] = input.detach();
    } else {
      // Keep the unit's own graph. What it saved of the parameters are views of the
      // gathered buffer, whose storage the engine frees and restores in place
      // (param_group.h, Note [storage swap]), so releasing below really frees memory.
      torch::AutoGradMode grad_on(true);
      torch::Tensor x = InnerInput(input);
      out = RunInner(unit, x, targets);
      ctx->saved_data["inner_input"] = x;
      ctx->saved_data["inner_output"] = out;
    }
    engine->AfterForward(static_cast<int>(index));
    return out.detach();
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    ZeroEngine* engine = EngineOf(ctx);
    const int index = static_cast<int>(ctx->saved_data["index"].toInt());
    engine->FetchForRun(index, /*backward=*/true);
    models::Unit& unit = engine->unit(index);

    torch::Tensor x, out;
    torch::AutoGradMode grad_on(true);
    if (engine->activation_checkpointing()) {
      x = InnerInput(ctx->saved_data["input"].toTensor());
      out = RunInner(unit, x, ctx->saved_data["targets"].toTensor());
    } else {
      x = ctx->saved_data["inner_input"].toTensor();
      out = ctx->saved_data["inner_output"].toTensor();
    }
    ctx->saved_data.erase("input");
    ctx->saved_data.erase("inner_input");
    ctx->saved_data.erase("inner_output");
    ctx->saved_data.erase("targets");

    // Gradients for the unit's own parameters, then for those it borrows (tied weights).
    variable_list inputs = unit.params();
    inputs.insert(inputs.end(), unit.borrowed_params().begin(), unit.borrowed_params().end());
    const bool wants_input_grad = x.requires_grad();
    if (wants_input_grad) inputs.push_back(x);
    variable_list grads = torch::autograd::grad({out}, inputs, {grad_outputs[0]},
                                                /*retain_graph=*/false, /*create_graph=*/false,
                                                /*allow_unused=*/true);
    torch::Tensor input_grad = wants_input_grad ? grads.back() : torch::Tensor();
    if (wants_input_grad) grads.pop_back();
    engine->AfterBackward(index, grads);
    return {input_grad, torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor RunUnit(ZeroEngine& engine, int index, const torch::Tensor& input,
                      const torch::Tensor& anchor, const torch::Tensor& targets) {
  return UnitFunction::apply(input, anchor, targets, reinterpret_cast<int64_t>(&engine),
                             static_cast<int64_t>(index));
}

}  // namespace zerod::zero
