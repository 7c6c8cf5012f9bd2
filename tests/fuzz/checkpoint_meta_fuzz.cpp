// Fuzzes the checkpoint metadata parser (engine/checkpoint/checkpoint_dir.cpp, ParseMeta, which
// ReadMeta runs on DIR/zerod_checkpoint.json): a resumed job reads a file that a crash,
// a full disk or a person may have damaged. What it accepts, the resume may trust.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/checkpoint/checkpoint_dir.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto meta = zerod::checkpoint::ParseMeta(text, "fuzz/zerod_checkpoint.json");
  if (!meta.ok()) return 0;
  FUZZ_CHECK(meta->world_size >= 1 && meta->step >= 0 && meta->lr_iteration >= 0);
  FUZZ_CHECK(meta->loss_scale > 0 && std::isfinite(meta->loss_scale));
  FUZZ_CHECK(meta->hysteresis_left >= 0 && meta->last_overflow_iteration >= -1);
  return 0;
}
