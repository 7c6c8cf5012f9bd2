#include "tests/support/test_env.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <random>

#include "absl/strings/str_cat.h"
#include "engine/util/files.h"

namespace zerod::testing {

TempDir::TempDir() {
  // Rank 0 picks a unique name (process id and a counter); every rank learns it.
  static int64_t counter = 0;
  int64_t id = 0;
  if (World().rank() == 0) id = static_cast<int64_t>(::getpid()) * 100000 + counter++;
  (void)World().Broadcast(&id, sizeof(id), 0);
  const char* tmp = std::getenv("TMPDIR");
  path_ = absl::StrCat(tmp != nullptr && *tmp ? tmp : "/tmp", "/zerod-test-", id);
  if (World().rank() == 0) (void)MakeDirectories(path_);
  (void)World().Barrier();
}

TempDir::~TempDir() {
  (void)World().Barrier();
  if (World().rank() == 0) (void)RemoveTree(path_);
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

void WriteTokens(const std::string& path, const std::vector<uint16_t>& tokens) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(tokens.data()), tokens.size() * 2);
}

std::vector<uint16_t> SyntheticTokens(int64_t n, int vocab, uint64_t seed) {
  // A noisy counter: token t+1 is usually token t + 1 (mod vocab), so loss can fall.
  std::mt19937_64 rng(seed);
  std::vector<uint16_t> out(n);
  uint16_t t = 0;
  for (int64_t i = 0; i < n; ++i) {
    t = (rng() % 4 == 0) ? static_cast<uint16_t>(rng() % vocab)
                         : static_cast<uint16_t>((t + 1) % vocab);
    out[i] = t;
  }
  return out;
}

std::string TinyLlamaConfigJson(int vocab, int hidden, int layers) {
  return absl::StrCat(
      R"({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": )", vocab,
      R"(, "hidden_size": )", hidden, R"(, "intermediate_size": )", hidden * 2 + 8,
      R"(, "num_hidden_layers": )", layers,
      R"(, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128,
                         "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "initializer_range": 0.02})");
}

JobSpec DirJobSpec(const TempDir& dir, int64_t steps, int64_t seq_len, uint64_t seed) {
  JobSpec spec;
  spec.model_dir = dir.path();
  spec.ds_config_path = dir.File("ds.json");
  spec.data_path = dir.File("data.bin");
  spec.steps = steps;
  spec.seq_len = seq_len;
  spec.seed = seed;
  return spec;
}

JobSpec WriteTinyJob(const TempDir& dir, const std::string& config_json, const std::string& ds_json,
                     int64_t steps, int64_t seq_len, uint64_t seed) {
  WriteText(dir.File("config.json"), config_json);
  WriteText(dir.File("ds.json"), ds_json);
  if (World().rank() == 0) WriteTokens(dir.File("data.bin"), SyntheticTokens(20000, 64, 3));
  (void)World().Barrier();
  return DirJobSpec(dir, steps, seq_len, seed);
}

}  // namespace zerod::testing
