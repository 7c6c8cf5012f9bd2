// Fuzzes the DeepSpeed config parser (engine/config/ds_config.cpp, json_reader.cpp) with
// arbitrary text: it must return InvalidArgument or a config whose batch arithmetic holds
// (ds_config.h: train_batch_size = micro_batch_per_gpu * grad_accum * world_size, all of
// them positive), never crash, throw, or wrap around, whatever the JSON holds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/config/ds_config.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // Two world sizes: the batch arithmetic ("auto" keys, divisibility) differs between them.
  for (int world_size : {1, 2}) {
    auto config = zerod::config::ParseDsConfig(text, world_size, "fuzz/ds_config.json");
    if (!config.ok()) continue;
    int64_t batch = 0;
    FUZZ_CHECK(config->micro_batch_per_gpu >= 1 && config->gradient_accumulation_steps >= 1);
    FUZZ_CHECK(!__builtin_mul_overflow(config->micro_batch_per_gpu,
                                       config->gradient_accumulation_steps, &batch) &&
               !__builtin_mul_overflow(batch, int64_t{world_size}, &batch));
    FUZZ_CHECK(batch == config->train_batch_size);
  }
  return 0;
}
