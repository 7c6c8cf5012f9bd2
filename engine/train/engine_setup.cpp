#include "engine/train/engine_setup.h"

#include <omp.h>
#ifdef ZEROD_CUDA
#include <c10/cuda/CUDAFunctions.h>
#endif

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "engine/models/checkpoint_reader.h"
#include "engine/models/model_dir.h"
#include "engine/models/registry.h"
#include "engine/models/torch_dtype.h"
#include "engine/util/cpu_affinity.h"
#include "engine/util/status_macros.h"
#include "engine/weights/model_weights.h"

namespace zerod::train {

void ShareCpuThreads(const comm::Communicator& comm) {
  const std::string note = WidenCpuAffinity(comm.local_rank(), comm.local_size());
  if (!note.empty() && comm.rank() == 0) std::fprintf(stderr, "zerod: %s\n", note.c_str());
  if (std::getenv("OMP_NUM_THREADS") != nullptr) return;
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  const int threads = std::max(1, cores / std::max(1, comm.local_size()));
  torch::set_num_threads(threads);
  omp_set_num_threads(threads);
}

zero::EngineOptions EngineOptionsFor(const config::DsConfig& ds, const comm::Communicator& comm) {
  zero::EngineOptions opts;
  opts.dtype = models::ToTorch(ds.compute_dtype);
  opts.device = comm.device() >= 0
                    ? torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(comm.device()))
                    : torch::Device(torch::kCPU);
  opts.offload_param = ds.zero.offload_param.to_cpu();
  opts.pin_memory = ds.zero.offload_param.pin_memory || ds.zero.offload_optimizer.pin_memory;
  opts.prefetch_bucket_numel = ds.zero.prefetch_bucket_size;
  opts.persistence_threshold_numel = ds.zero.param_persistence_threshold;
  opts.max_live_numel = ds.zero.max_live_parameters;
  opts.gradient_accumulation_steps = ds.gradient_accumulation_steps;
  opts.overlap_optimizer = ds.zero.overlap_optimizer;
  opts.early_update = ds.zero.early_update;
  opts.delayed_update_after = ds.zero.delayed_update ? ds.zero.delayed_update_warmup_steps : -1;
  // On a GPU the rank's main thread feeds the device while the CPU optimizer runs: leave
  // it a core.
  const int threads = omp_get_max_threads();
  opts.optimizer_threads = opts.device.is_cuda() ? std::max(1, threads - 1) : threads;
  return opts;
}

absl::StatusOr<std::unique_ptr<zero::ZeroEngine>> CreateEngine(const models::ModelConfig& model,
                                                               const zero::EngineOptions& options,
                                                               comm::Communicator& comm) {
#ifdef ZEROD_CUDA
  if (options.device.is_cuda()) c10::cuda::set_device(options.device.index());
#endif
  auto engine = zero::ZeroEngine::Create(models::BuildUnits(model), &comm, options);
  RETURN_IF_ERROR(comm::AgreeOnStatus(comm, engine.status()));
  return engine;
}

absl::StatusOr<std::string> LoadOrInitWeights(zero::ZeroEngine& engine,
                                              const std::string& model_dir, uint64_t seed,
                                              double initializer_range, bool random_init,
                                              comm::Communicator& comm) {
  absl::Status loaded = models::CheckModelWeights(model_dir, random_init);
  std::string origin;
  if (loaded.ok() && !random_init && models::CheckpointReader::HasWeights(model_dir)) {
    auto reader = models::CheckpointReader::Open(model_dir);
    loaded = reader.ok() ? weights::LoadWeights(engine, **reader) : reader.status();
    if (loaded.ok()) {
      origin = absl::StrCat("loaded ", (*reader)->num_tensors(), " tensors from ", model_dir, " (",
                            (*reader)->num_files(), " safetensors file",
                            (*reader)->num_files() == 1 ? "" : "s", ")");
    }
  } else if (loaded.ok()) {
    loaded = weights::InitWeights(engine, seed, initializer_range);
    origin = absl::StrCat(
        "initialised from seed ", seed,
        random_init ? " (--init random)" : absl::StrCat(": ", model_dir, " holds no weights"));
  }
  RETURN_IF_ERROR(comm::AgreeOnStatus(comm, loaded));
  return origin;
}

absl::StatusOr<ModelAndData> LoadModelAndData(const std::string& model_dir,
                                              const std::string& data_path,
                                              const std::string& data_dtype, int64_t seq_len) {
  ModelAndData md;
  ASSIGN_OR_RETURN(md.model, models::LoadModelConfig(model_dir));
  RETURN_IF_ERROR(md.model.CheckSequenceLength(seq_len));
  ASSIGN_OR_RETURN(auto dtype, data::ParseTokenDType(data_dtype));
  ASSIGN_OR_RETURN(md.dataset, data::TokenDataset::Open(data_path, dtype, md.model.vocab_size()));
  return md;
}

}  // namespace zerod::train
