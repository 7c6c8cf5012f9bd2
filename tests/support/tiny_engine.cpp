#include "tests/support/tiny_engine.h"

#include <gtest/gtest.h>

#include "engine/models/decoder.h"
#include "engine/models/hf_config.h"
#include "tests/support/test_env.h"

namespace zerod::testing {

models::DecoderConfig TinyLlama() {
  return models::ParseDecoderConfig(TinyLlamaConfigJson(), "tiny").value();
}

std::unique_ptr<zero::ZeroEngine> TinyEngine() {
  zero::EngineOptions opts;
  opts.persistence_threshold_numel = 0;
  return zero::ZeroEngine::Create(models::BuildDecoderUnits(TinyLlama()), &World(), opts).value();
}

void ExpectSameGatheredParameters(zero::ZeroEngine& a, zero::ZeroEngine& b) {
  ASSERT_TRUE(a.FinishUpdates().ok() && b.FinishUpdates().ok());
  for (int i = 0; i < a.num_units(); ++i) {
    for (auto* e : {&a, &b}) {
      ASSERT_TRUE(e->group(i).StartFetch().ok());
      ASSERT_TRUE(e->group(i).WaitFetch().ok());
    }
    for (size_t k = 0; k < a.unit(i).params().size(); ++k) {
      EXPECT_TRUE(torch::equal(a.unit(i).params()[k], b.unit(i).params()[k]))
          << a.unit(i).specs()[k].name;
    }
    ASSERT_TRUE(a.group(i).Release().ok());
    ASSERT_TRUE(b.group(i).Release().ok());
  }
}

}  // namespace zerod::testing
