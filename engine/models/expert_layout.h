// The two layouts of a mixture of experts' weights in a checkpoint. The Hub's (and what
// transformers 5.23's save_pretrained writes, and what zerod exports and trains on): one
// tensor per expert and projection, "model.layers.N.mlp.experts.E.gate_proj.weight" (F, C),
// up_proj (F, C), down_proj (C, F) (Mixtral: "block_sparse_moe.experts.E.w1/w3/w2"). The
// fused one transformers 5 keeps in memory (a state_dict() saved as it is): per layer
// "model.layers.N.mlp.experts.gate_up_proj" (E, 2F, C), each expert's gate rows then its up
// rows, and "mlp.experts.down_proj" (E, C, F). Each per-expert tensor is one contiguous run
// of elements of its fused tensor, so a rank reads its shard's slice of either layout
// directly. Torch-free.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace zerod::models {

// Where per-expert tensor `name` of `shape` lies in the fused layout.
struct FusedExpertSource {
  std::vector<std::string> names;  // the fused tensor's possible names, most likely first
  int64_t expert = 0;
  int64_t rows = 0;    // the fused tensor's dim 1: 2F for gate_up_proj, C for down_proj
  int64_t offset = 0;  // element offset of the per-expert tensor in the fused one
};

// nullopt when `name` is not a per-expert projection weight of a 2-D `shape`.
std::optional<FusedExpertSource> FusedSourceOf(const std::string& name,
                                               const std::vector<int64_t>& shape);

}  // namespace zerod::models
