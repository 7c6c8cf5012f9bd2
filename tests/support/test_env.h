// Shared helpers for zerod's tests: the MPI world and scratch files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/api.h"
#include "engine/comm/communicator.h"

namespace zerod::testing {

// The world communicator set up by mpi_test_main.cpp (size 1 unless run under mpirun).
comm::Communicator& World();
// The same ranks over NCCL, one GPU each; nullptr unless the build has CUDA and this
// host has a GPU for every local rank (GPU tests skip then).
comm::Communicator* GpuWorld();

// A fresh directory under the system temp dir, removed by the destructor. Under MPI
// every rank gets the same path (rank 0 creates it; the name is agreed on).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Writes `text` to `path`.
void WriteText(const std::string& path, const std::string& text);
// Writes uint16 tokens to `path`.
void WriteTokens(const std::string& path, const std::vector<uint16_t>& tokens);
// A deterministic token stream with some structure to learn (vocab `vocab`).
std::vector<uint16_t> SyntheticTokens(int64_t n, int vocab, uint64_t seed);

// The tiny Llama config.json the engine tests train (GQA, 2 layers).
std::string TinyLlamaConfigJson(int vocab = 64, int hidden = 32, int layers = 2);

// A job on `dir`'s config.json, ds.json and data.bin (uint16 tokens).
JobSpec DirJobSpec(const TempDir& dir, int64_t steps, int64_t seq_len, uint64_t seed);

// Writes `dir`'s config.json and ds.json, and (rank 0, every rank waits) data.bin with
// 20000 synthetic tokens of the tiny vocabulary; returns DirJobSpec over them.
JobSpec WriteTinyJob(const TempDir& dir, const std::string& config_json, const std::string& ds_json,
                     int64_t steps, int64_t seq_len, uint64_t seed);

}  // namespace zerod::testing
