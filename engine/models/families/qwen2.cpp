// Qwen2ForCausalLM (transformers' models/qwen2): Llama's block with q/k/v biases (none on
// o_proj or the MLP) and Qwen's sliding windows (qwen_windows.h).
#include "engine/models/families/qwen_windows.h"

namespace zerod::models {
namespace {

absl::Status Read(FamilyReader& r, const Family& f, DecoderConfig& c) {
  c.qkv_bias = true;
  RETURN_IF_ERROR(r.Act("hidden_act", "silu", {{"silu", Activation::kSilu}}, c));
  RETURN_IF_ERROR(r.Rope(f.defaults, {}, c));
  RETURN_IF_ERROR(internal::ReadQwenWindows(r, c));
  return r.Dropout({"attention_dropout"}, c);
}

}  // namespace

const Family kQwen2Family = {
    .architecture = "Qwen2ForCausalLM",
    .model_type = "qwen2",
    .defaults = {.vocab_size = 151936,
                 .intermediate_size = 22016,
                 .max_position_embeddings = 32768},
    .read = Read,
    .norms = PreNorms(),
    .harmless = {},
    .harmless_if = {{"use_mrope", false}},  // Qwen2.5's configs; true is Qwen2-VL's RoPE
};

}  // namespace zerod::models
