// The tiny Llama of TinyLlamaConfigJson() as a ZeRO-3 engine over the MPI world, and the
// check that two such engines hold the same weights: what the tests that load weights
// into an engine (tests/models/checkpoint_load_test.cpp) and export them from one
// (tests/checkpoint/hf_export_test.cpp) share.
#pragma once

#include <memory>

#include "engine/models/hf_config.h"
#include "engine/zero/zero_engine.h"

namespace zerod::testing {

// TinyLlamaConfigJson() with its defaults, parsed.
models::DecoderConfig TinyLlama();

// An engine for TinyLlama() over World() (a collective), fp32 on the CPU, persistence
// threshold 0 so that every unit is released and re-gathered. Its weights are unset:
// weights::InitWeights or weights::LoadWeights comes next (engine/weights/model_weights.h).
std::unique_ptr<zero::ZeroEngine> TinyEngine();

// Gathers both engines unit by unit (a collective: every rank calls it) and expects every
// parameter of `a` equal to `b`'s, naming the ones that differ. Finishes pending updates.
void ExpectSameGatheredParameters(zero::ZeroEngine& a, zero::ZeroEngine& b);

}  // namespace zerod::testing
