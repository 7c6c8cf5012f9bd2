// The transformers fixtures of tests/fixtures/models (written by make_model_fixtures.py):
// a tiny HF model directory plus what transformers computed for one token batch.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/models/hf_config.h"
#include "engine/models/sequence_layout.h"
#include "engine/zero/zero_engine.h"

namespace zerod::testing {

struct HfFixture {
  std::string name;
  std::string dir;
  models::ModelConfig config;
  torch::Tensor input_ids;  // (B, T) int64
  torch::Tensor logits;     // (B, T, V) float32, transformers in eval mode
  double loss = 0.0;        // labels = input_ids
  double grad_norm = 0.0;   // L2 norm of all gradients after one backward of `loss`
  bool has_adamw = false;   // after_adamw.safetensors exists
  // Mixtures of experts: the same with output_router_logits (the load-balancing loss over
  // all T tokens), 0 otherwise; and whether the checkpoint holds the fused 3-D expert layout.
  bool routed = false;
  double aux_loss = 0.0, loss_with_aux = 0.0, grad_norm_with_aux = 0.0;
  bool fused_layout = false;
};

// Fine-tuning's references for a fixture (packed.json, packed.safetensors; the script's
// docstring says how transformers made them): a masked-label loss, and packed rows whose
// documents each ran alone.
struct PackedFixture {
  torch::Tensor masked_labels;  // (B, T) int64: input_ids, -100 where no label
  double masked_loss = 0.0;     // transformers' loss with those labels
  double masked_grad_norm = 0.0;
  torch::Tensor packed_ids;                          // (B, T) int64
  std::vector<std::vector<int64_t>> documents;       // each row's document lengths
  std::vector<bool> padding;                         // a row's last document is padding
  std::vector<double> doc_losses;                    // each real document alone, in order
  double packed_loss = 0.0, packed_grad_norm = 0.0;  // over all documents' labels
  torch::Tensor logits;  // (B, T, V) float32: each document alone, in place (padding: 0)
};

// The fixtures that have packed.json, and one's contents (ASSERTs on a bad file).
const std::vector<std::string>& PackedFixtureNames();
PackedFixture LoadPackedFixture(const HfFixture& f);

// Every fixture's name, and the DeepSpeed config of the AdamW fixtures.
const std::vector<std::string>& HfFixtureNames();
std::string HfFixtureDsConfig();

// Reads fixture `name`; fails the calling test (ASSERT) on a bad fixture.
HfFixture LoadHfFixture(const std::string& name);

// An engine over `comm` (default: the MPI world, fp32 on the CPU) for the fixture's
// model, with its weights loaded.
std::unique_ptr<zero::ZeroEngine> FixtureEngine(const HfFixture& f,
                                                zero::EngineOptions options = {},
                                                comm::Communicator* comm = nullptr);

// Every tensor of a safetensors file as float32 torch tensors, by name.
std::vector<std::pair<std::string, torch::Tensor>> ReadAllTensors(const std::string& path);

// Next-token loss on ids (B, T): logits[:, :-1] against ids[:, 1:], as transformers'
// ForCausalLMLoss with labels = input_ids.
torch::Tensor ShiftedLoss(const torch::Tensor& logits, const torch::Tensor& ids);

// Calls fn(unit parameter spec name, gathered tensor) for every owned parameter of
// `engine`, one unit gathered at a time (a collective: every rank calls it).
void ForEachGatheredParam(zero::ZeroEngine& engine,
                          const std::function<void(const std::string&, const torch::Tensor&)>& fn);

}  // namespace zerod::testing
