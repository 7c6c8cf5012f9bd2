// The ZeRO-3 invariant for every placement the plan can choose (plan.h): optimizer state
// on the host (ratio 1), split (0.5) or on the device (0), 16-bit shards offloaded or
// resident, with and without clipping, gradient accumulation and checkpointing: the same
// losses as plain LibTorch training. And the overlapped CPU optimizer (Note [overlapped
// update]) leaves bitwise the same weights and moments as the serial one. Runs under
// mpirun at world sizes 1, 2 and 4 on CPU, and at world 1 on the GPU when there is one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/api.h"
#include "nlohmann/json.hpp"
#include "tests/support/plain_trainer.h"
#include "tests/support/test_env.h"

namespace zerod {
namespace {

using testing::TempDir;
using testing::World;

struct Placement {
  const char* params;  // offload_param.device
  const char* ratio;   // offload_optimizer.ratio
};

struct Options {
  Placement placement{"cpu", "1.0"};
  bool clipping = true;
  bool accumulation = true;           // micro-batches of 2 summed to a global batch of 16
  const char* checkpointing = "off";  // --activation-checkpointing
  bool overlap = true;
  const char* max_norm = "0.5";           // with clipping: small enough that it clips every step
  bool speculate = true;                  // "zerod_speculative_update"
  bool early = true;                      // "zerod_early_update"
  const char* precision = "";             // a DeepSpeed section, e.g. R"("fp16": {...},)"
  bool derived = true;                    // "zerod_derived_weights"
  const char* derived_host = "\"auto\"";  // "zerod_derived_host_weights"
  int delay_after = -1;  // >= 0: "zerod_delayed_update" after that many exact steps
};

struct Files {
  TempDir dir;
  JobSpec spec;
  explicit Files(const Options& o) {
    const int64_t batch = o.accumulation ? 16 : 2 * World().world_size();
    const std::string ds = absl::StrCat(
        R"({"train_batch_size": )", batch, R"(, "train_micro_batch_size_per_gpu": 2,
      )",
        o.precision, R"("gradient_clipping": )", o.clipping ? o.max_norm : "0", R"(,
      "optimizer": {"type": "AdamW", "params": {"lr": 3e-3, "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.1}},
      "scheduler": {"type": "WarmupLR", "params": {"warmup_min_lr": 1e-4, "warmup_max_lr": 3e-3,
                    "warmup_num_steps": 5, "warmup_type": "linear"}},
      "zero_optimization": {"stage": 3, "stage3_param_persistence_threshold": 0,
        "stage3_prefetch_bucket_size": 5000, "zerod_derived_weights": )",
        o.derived ? "true" : "false", R"(, "zerod_derived_host_weights": )", o.derived_host,
        R"(, "zerod_overlap_optimizer": )", o.overlap ? "true" : "false",
        R"(, "zerod_speculative_update": )", o.speculate ? "true" : "false",
        R"(, "zerod_early_update": )", o.early ? "true" : "false", R"(, "zerod_delayed_update": )",
        o.delay_after >= 0 ? "true" : "false", R"(, "zerod_delayed_update_warmup_steps": )",
        std::max(o.delay_after, 0), R"(,
        "offload_param": {"device": ")",
        o.placement.params, R"(", "pin_memory": true},
        "offload_optimizer": {"device": "cpu", "pin_memory": true, "ratio": )",
        o.placement.ratio, "}}}");
    spec = testing::WriteTinyJob(dir, testing::TinyLlamaConfigJson(), ds, /*steps=*/12,
                                 /*seq_len=*/16, /*seed=*/11);
    spec.activation_checkpointing = o.checkpointing;
  }
};

std::string Describe(const Options& o) {
  return absl::StrCat("params ", o.placement.params, ", ratio ", o.placement.ratio,
                      o.clipping ? ", clipping" : "", o.accumulation ? ", accumulation" : "",
                      std::string(o.checkpointing) != "off"
                          ? absl::StrCat(", checkpointing ", o.checkpointing)
                          : "",
                      " (world ", World().world_size(), ")");
}

void ExpectPlainLosses(const Options& o, comm::Communicator& comm, const std::string& device) {
  Files files(o);
  const std::vector<double> want = testing::PlainTrainingLosses(files.spec, device);
  auto job = Job::Create(files.spec, &comm);
  ASSERT_TRUE(job.ok()) << job.status() << " " << Describe(o);
  double worst = 0.0;
  for (int64_t i = 0; i < files.spec.steps; ++i) {
    auto m = (*job)->Step();
    ASSERT_TRUE(m.ok()) << m.status();
    const double rel = std::abs(m->loss - want[i]) / std::abs(want[i]);
    worst = std::max(worst, rel);
    EXPECT_LT(rel, 1e-5) << "step " << i + 1 << ": zero " << m->loss << " plain " << want[i] << ", "
                         << Describe(o);
  }
  EXPECT_LT(want.back(), want.front() - 0.1) << "the loss must fall for the comparison to count";
  if (World().rank() == 0)
    std::printf("  %-70s on %s: largest relative loss difference %.2e\n    plan: %s\n",
                Describe(o).c_str(), device.c_str(), worst, (*job)->info().placement.c_str());
}

const Placement kPlacements[] = {
    {"cpu", "1.0"},  {"cpu", "0.5"},  {"cpu", "0.0"},       {"none", "1.0"},
    {"none", "0.5"}, {"none", "0.0"}, {"auto", "\"auto\""},
};

TEST(PlacementTest, EveryPlacementTrainsAsPlainLibTorch) {
  for (const Placement& p : kPlacements) {
    ExpectPlainLosses({.placement = p}, World(), "cpu");
  }
}

TEST(PlacementTest, WithCheckpointingWithoutClippingOrAccumulation) {
  for (const Placement& p : {Placement{"cpu", "1.0"}, Placement{"none", "0.5"}}) {
    ExpectPlainLosses({.placement = p, .checkpointing = "on"}, World(), "cpu");
    ExpectPlainLosses({.placement = p, .clipping = false, .accumulation = false}, World(), "cpu");
  }
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Trains `steps` steps and saves a checkpoint; returns this rank's state file's bytes
// (float32 masters and both moments of its shards).
std::string StateAfterTraining(const Options& o, comm::Communicator& comm, int steps) {
  Files files(o);
  files.spec.steps = steps;
  auto job = Job::Create(files.spec, &comm);
  EXPECT_TRUE(job.ok()) << job.status();
  if (!job.ok()) return "";
  for (int i = 0; i < steps; ++i) EXPECT_TRUE((*job)->Step().ok());
  TempDir ckpt;
  EXPECT_TRUE((*job)->SaveCheckpoint(ckpt.File("c")).ok());
  char name[64];
  std::snprintf(name, sizeof(name), "c/rank_%05d_of_%05d.safetensors", comm.rank(),
                comm.world_size());
  return ReadBytes(ckpt.File(name));
}

void ExpectOverlapBitwiseSerial(comm::Communicator& comm) {
  for (const Placement& p : {Placement{"cpu", "1.0"}, Placement{"none", "0.5"}}) {
    Options o{.placement = p};
    const std::string overlapped = StateAfterTraining(o, comm, 6);
    o.overlap = false;
    const std::string serial = StateAfterTraining(o, comm, 6);
    ASSERT_FALSE(serial.empty());
    EXPECT_TRUE(overlapped == serial) << "overlapped and serial updates differ: " << Describe(o);
  }
}

TEST(PlacementTest, OverlappedUpdateGivesBitwiseTheSerialWeights) {
  ExpectOverlapBitwiseSerial(World());
}

// What a run leaves, for the bitwise comparisons: this rank's state file, every step's
// loss and gradient norm, and how many host updates were speculated and undone.
struct RunResult {
  std::string state;
  std::vector<double> losses, norms;
  int speculated = 0, undone = 0, skipped = 0, delayed = 0;
  std::string placement;  // the job's PlacementSummary
  int64_t param_shard_bytes = 0;
};

RunResult Run(const Options& o, comm::Communicator& comm, int steps) {
  Files files(o);
  files.spec.steps = steps;
  RunResult r;
  auto job = Job::Create(files.spec, &comm);
  EXPECT_TRUE(job.ok()) << job.status();
  if (!job.ok()) return r;
  r.placement = (*job)->info().placement;
  r.param_shard_bytes = (*job)->Memory().param_shard_bytes;
  for (int i = 0; i < steps; ++i) {
    auto m = (*job)->Step();
    EXPECT_TRUE(m.ok()) << m.status();
    if (!m.ok()) return r;
    r.losses.push_back(m->loss);
    r.norms.push_back(m->grad_norm);
    r.speculated += m->speculated_units;
    r.undone += m->undone_units;
    r.skipped += m->skipped;
    r.delayed += m->delayed_units;
  }
  TempDir ckpt;
  EXPECT_TRUE((*job)->SaveCheckpoint(ckpt.File("c")).ok());
  char name[64];
  std::snprintf(name, sizeof(name), "c/rank_%05d_of_%05d.safetensors", comm.rank(),
                comm.world_size());
  r.state = ReadBytes(ckpt.File(name));
  return r;
}

// Note [speculative update] (zero/host_updater.h): host updates made during the backward
// and undone where the step's decision differs leave bitwise the serial update's weights,
// moments and losses, whether the decision clips (undo every step), does not (the
// speculation stands), skips the step (fp16 overflow), with and without accumulation.
void ExpectSpeculationBitwiseSerial(comm::Communicator& comm) {
  struct Case {
    const char* what;
    Options options;
    int expect_undone;  // 1: the decision differs from the assumption on every step; 0: never;
                        // -1: either (an overflowing gradient is not speculated at all)
  };
  const char* fp16 = R"("fp16": {"enabled": true, "initial_scale_power": 24, "hysteresis": 1},)";
  const char* bf16 = R"("bf16": {"enabled": true},)";
  const Case cases[] = {
      {"clipping that clips", {.placement = {"cpu", "1.0"}}, 1},
      // 16-bit shards written by the speculation, then rounded again or kept; and host
      // shards made from masters that a standing speculation exchanges for its spare ones.
      {"bf16, clipping that clips", {.placement = {"cpu", "1.0"}, .precision = bf16}, 1},
      {"bf16, clipping that never clips",
       {.placement = {"cpu", "1.0"}, .max_norm = "1e9", .precision = bf16},
       0},
      {"bf16, host shards derived, clipping that never clips",
       {.placement = {"cpu", "1.0"}, .max_norm = "1e9", .precision = bf16, .derived_host = "true"},
       0},
      {"bf16, host shards derived, clipping that clips",
       {.placement = {"cpu", "0.5"}, .precision = bf16, .derived_host = "true"},
       1},
      {"clipping that never clips", {.placement = {"cpu", "1.0"}, .max_norm = "1e9"}, 0},
      {"no clipping, no accumulation",
       {.placement = {"none", "0.5"}, .clipping = false, .accumulation = false},
       0},
      {"clipping that never clips, no accumulation",
       {.placement = {"none", "0.5"}, .accumulation = false, .max_norm = "1e9"},
       0},
      {"fp16 overflowing, then not",
       {.placement = {"cpu", "1.0"}, .max_norm = "1e9", .precision = fp16},
       -1},
  };
  for (const Case& c : cases) {
    Options o = c.options;
    const RunResult speculative = Run(o, comm, 6);
    o.overlap = false;
    const RunResult serial = Run(o, comm, 6);
    ASSERT_FALSE(serial.state.empty()) << c.what;
    EXPECT_EQ(serial.speculated, 0) << c.what;
    // Where the decision differs, speculations not started by then are dropped unmade, so
    // how many were made depends on the threads' timing; those made are all dropped. (The
    // dropping itself, made deterministic: zero_engine_test.cpp.)
    if (c.expect_undone == 0) {
      EXPECT_GT(speculative.speculated, 0) << c.what << ": nothing was speculated";
      EXPECT_EQ(speculative.undone, 0) << c.what;
    } else if (c.expect_undone == 1) {
      EXPECT_EQ(speculative.undone, speculative.speculated) << c.what;
    }
    EXPECT_EQ(speculative.losses, serial.losses) << c.what;
    EXPECT_EQ(speculative.norms, serial.norms) << c.what;
    EXPECT_EQ(speculative.skipped, serial.skipped) << c.what;
    EXPECT_TRUE(speculative.state == serial.state)
        << "speculative and serial updates differ: " << c.what << ", " << Describe(o);
    if (c.options.precision == fp16) {  // 2^24 overflows the first steps (4 of 6 here)
      EXPECT_GT(serial.skipped, 0) << c.what << ": no overflow";
      EXPECT_LT(serial.skipped, 6) << c.what << ": no step after the overflows";
    }
  }
}

TEST(PlacementTest, SpeculativeUpdateGivesBitwiseTheSerialWeights) {
  ExpectSpeculationBitwiseSerial(World());
}

// Note [early update] (zero/host_updater.h): without clipping or fp16's overflow check,
// host units update during the backward with no saved state (speculation off), never
// undone, to bitwise the serial update's weights, moments, losses and norms: bf16 and
// float32, shards offloaded and resident, with and without accumulation. With clipping,
// or with "zerod_early_update": false, nothing updates early.
void ExpectEarlyUpdateBitwiseSerial(comm::Communicator& comm) {
  const char* bf16 = R"("bf16": {"enabled": true},)";
  const Options cases[] = {
      {.placement = {"cpu", "1.0"}, .clipping = false, .speculate = false},
      {.placement = {"cpu", "1.0"}, .clipping = false, .speculate = false, .precision = bf16},
      {.placement = {"none", "0.5"}, .clipping = false, .accumulation = false, .speculate = false},
  };
  for (Options o : cases) {
    const RunResult early = Run(o, comm, 6);
    o.overlap = false;
    const RunResult serial = Run(o, comm, 6);
    ASSERT_FALSE(serial.state.empty()) << Describe(o);
    EXPECT_GT(early.speculated, 0) << "nothing updated early: " << Describe(o);
    EXPECT_EQ(early.undone, 0) << Describe(o);
    EXPECT_EQ(early.losses, serial.losses) << Describe(o);
    EXPECT_EQ(early.norms, serial.norms) << Describe(o);
    EXPECT_TRUE(early.state == serial.state) << "early and serial updates differ: " << Describe(o);
  }
  Options clipped{.placement = {"cpu", "1.0"}, .speculate = false};
  EXPECT_EQ(Run(clipped, comm, 3).speculated, 0) << "updated early though the step clips";
  Options off{.placement = {"cpu", "1.0"}, .clipping = false, .speculate = false, .early = false};
  EXPECT_EQ(Run(off, comm, 3).speculated, 0) << "updated early with zerod_early_update off";
}

TEST(PlacementTest, EarlyUpdateGivesBitwiseTheSerialWeights) {
  ExpectEarlyUpdateBitwiseSerial(World());
}

// Note [delayed update] (zero/host_updater.h), the opt-in mode that changes the math: with
// every unit updated on the CPU, a job that delays after 3 exact steps trains as plain
// LibTorch does with each update from the fourth on applied one step late (losses within
// 1e-5, and away from the exact run's); with the delay past the run's end it is bitwise
// the exact run. With shards offloaded and resident, clipping and accumulation.
void ExpectDelayedUpdateAsPlainDelayed(comm::Communicator& comm, const std::string& device) {
  for (const Placement& p : {Placement{"cpu", "1.0"}, Placement{"none", "1.0"}}) {
    Options o{.placement = p, .speculate = false, .delay_after = 3};
    Files files(o);
    const std::vector<double> want = testing::PlainTrainingLosses(files.spec, device, 3);
    const std::vector<double> exact = testing::PlainTrainingLosses(files.spec, device);
    const RunResult delayed = Run(o, comm, static_cast<int>(files.spec.steps));
    ASSERT_EQ(delayed.losses.size(), want.size()) << Describe(o);
    double apart = 0.0;
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_LT(std::abs(delayed.losses[i] - want[i]) / std::abs(want[i]), 1e-5)
          << "step " << i + 1 << ": zerod " << delayed.losses[i] << " plain delayed " << want[i]
          << ", " << Describe(o);
      apart = std::max(apart, std::abs(want[i] - exact[i]) / std::abs(exact[i]));
    }
    EXPECT_GT(apart, 1e-4) << "the delay must change the losses for the comparison to count";
    EXPECT_GT(delayed.delayed, 0) << Describe(o);
    EXPECT_LT(want.back(), want.front() - 0.1) << "the delayed run must still learn";

    o.delay_after = 100;  // never reached: every step exact
    const RunResult warmup_only = Run(o, comm, 6);
    o.delay_after = -1;
    const RunResult off = Run(o, comm, 6);
    ASSERT_FALSE(off.state.empty());
    EXPECT_EQ(warmup_only.losses, off.losses) << Describe(o);
    EXPECT_TRUE(warmup_only.state == off.state) << "exact steps of a delayed job differ";
    EXPECT_EQ(warmup_only.delayed, 0);
  }
}

TEST(PlacementTest, DelayedUpdateTrainsAsPlainLibTorchDelayed) {
  ExpectDelayedUpdateAsPlainDelayed(World(), "cpu");
}

// A memory size (for ZEROD_GPU_MEMORY on a GPU, else ZEROD_HOST_MEMORY) at which the plan's
// auto checkpointing recomputes some of the layers of `spec` but not all, found by
// bisecting on the plan itself (PlanOffline, as the job plans); -1 if there is none.
int64_t MemoryForPartialCheckpointing(const JobSpec& spec, comm::Communicator& comm, bool gpu) {
  int layers = 0;
  auto recomputed = [&](int64_t bytes) {  // -1: does not fit
    PlanMachine m;
    m.world_size = comm.world_size();
    m.ranks_per_host = comm.local_size();
    (gpu ? m.gpu_memory : m.host_memory) = std::to_string(bytes);
    auto o = PlanOffline(spec, m);
    EXPECT_TRUE(o.ok()) << o.status();
    if (!o.ok() || !o->fits) return -1;
    const nlohmann::json j = nlohmann::json::parse(o->json);
    layers = j["layers"].get<int>();
    return j["recomputed_layers"].get<int>();
  };
  int64_t small = int64_t{1} << 20, large = int64_t{1} << 40;  // -1 or all; none
  if (recomputed(large) != 0) return -1;
  while (large - small > 1) {
    const int64_t mid = small + (large - small) / 2;
    const int c = recomputed(mid);
    if (c > 0 && c < layers) return mid;
    (c == 0 ? large : small) = mid;
  }
  return -1;
}

// Note [recomputation] (zero/unit_function.cpp): a unit recomputed in backward gives
// bitwise the gradients of one that kept its activations, so the plan's choice of
// layers (auto, here made to recompute some but not all by the memory it is given) and
// "on" train to bitwise the weights, moments, losses and norms of "off": with clipping
// and accumulation, and without either.
void ExpectPlanChosenCheckpointingBitwise(comm::Communicator& comm, bool gpu) {
  for (Options o :
       {Options{.placement = {"cpu", "1.0"}},
        Options{.placement = {"none", "0.5"}, .clipping = false, .accumulation = false}}) {
    const RunResult off = Run(o, comm, 4);
    o.checkpointing = "on";
    const RunResult on = Run(o, comm, 4);
    o.checkpointing = "auto";
    const int64_t memory = MemoryForPartialCheckpointing(Files(o).spec, comm, gpu);
    ASSERT_GT(memory, 0) << "no memory size makes auto recompute some layers: " << Describe(o);
    const char* variable = gpu ? "ZEROD_GPU_MEMORY" : "ZEROD_HOST_MEMORY";
    setenv(variable, std::to_string(memory).c_str(), 1);
    const RunResult chosen = Run(o, comm, 4);
    unsetenv(variable);
    ASSERT_FALSE(off.state.empty());
    EXPECT_NE(off.placement.find("recomputed in backward: none"), std::string::npos);
    EXPECT_NE(on.placement.find("recomputed in backward: every unit"), std::string::npos);
    EXPECT_NE(chosen.placement.find(" layers"), std::string::npos) << chosen.placement;
    for (const RunResult* r : {&on, &chosen}) {
      const char* what = r == &on ? "on" : "auto (some layers)";
      EXPECT_EQ(r->losses, off.losses) << what << ", " << Describe(o);
      EXPECT_EQ(r->norms, off.norms) << what << ", " << Describe(o);
      EXPECT_TRUE(r->state == off.state) << what << " and off differ: " << Describe(o);
    }
  }
}

// Note [derived shard] (zero/param_group.h): 16-bit shards rounded from their masters at
// each gather, rather than kept, train to bitwise the same losses, norms, weights and
// moments, and hold fewer shard bytes: in bf16 with every unit updated beside its master
// (ratio 0) and half of them (ratio 0.5), and with host-updated units deriving theirs from
// the host master ("zerod_derived_host_weights": true; offloaded shards, ratio 1 and 0.5),
// speculated and dropped (clipping that clips) or kept (clipping that never clips), and in
// fp16 through overflows (skipped steps restore the masters the shards are made from);
// with accumulation.
void ExpectDerivedWeightsBitwiseKept(comm::Communicator& comm) {
  const char* bf16 = R"("bf16": {"enabled": true},)";
  const char* fp16 = R"("fp16": {"enabled": true, "initial_scale_power": 24, "hysteresis": 1},)";
  const Options cases[] = {
      {.placement = {"none", "0.0"}, .precision = bf16},
      {.placement = {"none", "0.5"}, .precision = bf16},
      {.placement = {"cpu", "1.0"}, .precision = bf16, .derived_host = "true"},
      {.placement = {"cpu", "0.5"}, .precision = bf16, .derived_host = "true"},
      {.placement = {"cpu", "1.0"}, .max_norm = "1e9", .precision = bf16, .derived_host = "true"},
      {.placement = {"cpu", "1.0"}, .max_norm = "1e9", .precision = fp16, .derived_host = "true"},
  };
  for (Options o : cases) {
    const RunResult derived = Run(o, comm, 4);
    o.derived = false;
    o.derived_host = "false";
    const RunResult kept = Run(o, comm, 4);
    ASSERT_FALSE(kept.state.empty()) << Describe(o);
    // (How many units speculate may differ: the memory derived shards save buys more.)
    EXPECT_EQ(derived.losses, kept.losses) << Describe(o);
    EXPECT_EQ(derived.norms, kept.norms) << Describe(o);
    EXPECT_EQ(derived.skipped, kept.skipped) << Describe(o);
    EXPECT_TRUE(derived.state == kept.state) << "derived and kept shards differ: " << Describe(o);
    EXPECT_LT(derived.param_shard_bytes, kept.param_shard_bytes) << Describe(o);
    if (std::string(o.max_norm) == "1e9" && o.precision == bf16) {  // nothing clips or skips
      EXPECT_GT(derived.speculated, 0) << "derived host shards were not speculated on";
    }
  }
}

TEST(PlacementTest, DerivedWeightsGiveBitwiseTheKeptShardsWeights) {
  ExpectDerivedWeightsBitwiseKept(World());
}

TEST(PlacementTest, PlanChosenCheckpointingGivesBitwiseTheSameWeights) {
  ExpectPlanChosenCheckpointingBitwise(World(), /*gpu=*/false);
}

// A job whose plan does not fit the memory it is given is refused before any allocation,
// on every rank, naming the memory that is short and a remedy.
TEST(PlacementTest, AJobThatCannotFitIsRefusedUpFront) {
  Files files(Options{});
  setenv("ZEROD_HOST_MEMORY", "1MiB", 1);
  auto job = Job::Create(files.spec, &World());
  unsetenv("ZEROD_HOST_MEMORY");
  ASSERT_FALSE(job.ok());
  EXPECT_EQ(job.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(job.status().message().find("host memory needs"), std::string::npos) << job.status();
  setenv("ZEROD_HOST_MEMORY", "lots", 1);
  auto bad = Job::Create(files.spec, &World());
  unsetenv("ZEROD_HOST_MEMORY");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("ZEROD_HOST_MEMORY"), std::string::npos);
}

// The GPU path (CUDA builds on a GPU host): device AdamW, pinned lanes, uploads of
// host-updated shards, the worker's stream.
std::string LocalGpu() { return "cuda:" + std::to_string(World().local_rank()); }

TEST(PlacementGpuTest, EveryPlacementTrainsAsPlainLibTorchOnTheGpu) {
  if (testing::GpuWorld() == nullptr) GTEST_SKIP() << "no GPU path in this build or host";
  for (const Placement& p : kPlacements) {
    ExpectPlainLosses({.placement = p}, *testing::GpuWorld(), LocalGpu());
  }
  ExpectPlainLosses({.placement = {"none", "0.5"}, .checkpointing = "on"}, *testing::GpuWorld(),
                    LocalGpu());
  ExpectPlainLosses({.placement = {"cpu", "1.0"}, .clipping = false, .accumulation = false},
                    *testing::GpuWorld(), LocalGpu());
}

TEST(PlacementGpuTest, OverlappedUpdateGivesBitwiseTheSerialWeightsOnTheGpu) {
  if (testing::GpuWorld() == nullptr) GTEST_SKIP() << "no GPU path in this build or host";
  ExpectOverlapBitwiseSerial(*testing::GpuWorld());
}

TEST(PlacementGpuTest, SpeculativeUpdateGivesBitwiseTheSerialWeightsOnTheGpu) {
  if (testing::GpuWorld() == nullptr) GTEST_SKIP() << "no GPU path in this build or host";
  ExpectSpeculationBitwiseSerial(*testing::GpuWorld());
}

TEST(PlacementGpuTest, EarlyUpdateGivesBitwiseTheSerialWeightsOnTheGpu) {
  if (testing::GpuWorld() == nullptr) GTEST_SKIP() << "no GPU path in this build or host";
  ExpectEarlyUpdateBitwiseSerial(*testing::GpuWorld());
}

TEST(PlacementGpuTest, DerivedWeightsGiveBitwiseTheKeptShardsWeightsOnTheGpu) {
  if (testing::GpuWorld() == nullptr) GTEST_SKIP() << "no GPU path in this build or host";
  ExpectDerivedWeightsBitwiseKept(*testing::GpuWorld());
}

TEST(PlacementGpuTest, DelayedUpdateTrainsAsPlainLibTorchDelayedOnTheGpu) {
  if (testing::GpuWorld() == nullptr) GTEST_SKIP() << "no GPU path in this build or host";
  ExpectDelayedUpdateAsPlainDelayed(*testing::GpuWorld(), LocalGpu());
}

TEST(PlacementGpuTest, PlanChosenCheckpointingGivesBitwiseTheSameWeightsOnTheGpu) {
  if (testing::GpuWorld() == nullptr) GTEST_SKIP() << "no GPU path in this build or host";
  ExpectPlanChosenCheckpointingBitwise(*testing::GpuWorld(), /*gpu=*/true);
}

}  // namespace
}  // namespace zerod
