// Fuzzes the RPC edge's JobSpec validation (coordinator/validate.cpp): the input is a
// serialized zerod.v1.JobSpec as a client could send it. ValidateJobSpec only stats and
// reads paths (relative ones resolve against the working directory, which fuzz.sh sets to
// the checkout, so seeds can name configs/ and tests/fixtures/). What it accepts must hold
// the documented bounds.
#include <cstddef>
#include <cstdint>

#include "coordinator/validate.h"
#include "engine/config/job_spec.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  zerod::v1::JobSpec spec;
  if (!spec.ParseFromArray(data, static_cast<int>(size))) return 0;
  if (!zerod::coordinator::ValidateJobSpec(&spec).ok()) return 0;
  using namespace zerod::config;
  FUZZ_CHECK(spec.steps() >= 1 && spec.steps() <= kMaxSteps);
  FUZZ_CHECK(spec.seq_len() >= 1 && spec.seq_len() <= kMaxSeqLen);
  FUZZ_CHECK(spec.name().size() <= kMaxNameBytes);
  FUZZ_CHECK(spec.ds_config_json().size() <= kMaxInlineConfigBytes);
  FUZZ_CHECK(spec.data_dtype() == "uint16" || spec.data_dtype() == "uint32");
  return 0;
}
