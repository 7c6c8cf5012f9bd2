// Qwen3ForCausalLM (transformers' models/qwen3): Llama's block with an RMSNorm over
// head_dim on each query and key head before RoPE, attention_bias on all four
// projections, head_dim 128 unless given, and Qwen's sliding windows (qwen_windows.h).
#include "engine/models/families/qwen_windows.h"

namespace zerod::models {
namespace {

absl::Status Read(FamilyReader& r, const Family& f, DecoderConfig& c) {
  RETURN_IF_ERROR(r.AttentionBias(c));
  c.qk_norm = QkNorm::kPerHead;
  RETURN_IF_ERROR(r.Act("hidden_act", "silu", {{"silu", Activation::kSilu}}, c));
  RETURN_IF_ERROR(r.Rope(f.defaults, {}, c));
  RETURN_IF_ERROR(internal::ReadQwenWindows(r, c));
  return r.Dropout({"attention_dropout"}, c);
}

}  // namespace

const Family kQwen3Family = {
    .architecture = "Qwen3ForCausalLM",
    .model_type = "qwen3",
    .defaults = {.vocab_size = 151936,
                 .intermediate_size = 22016,
                 .head_dim = 128,
                 .max_position_embeddings = 32768},
    .read = Read,
    .norms = PreNorms(),
    .harmless = {},
    .harmless_if = {},
};

}  // namespace zerod::models
