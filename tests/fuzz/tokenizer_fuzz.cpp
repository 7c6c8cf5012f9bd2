// Fuzzes the tokenizer.json loader (engine/data/tokenizer.cpp and the normalizer,
// pre-tokenizer, BPE and added-token parts it builds): the input is tokenizer.json's text;
// what loads then encodes a fixed string that touches every stage (spaces, digits,
// punctuation, non-ASCII letters, special-token look-alikes, an invalid UTF-8 byte).
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "engine/data/tokenizer.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

constexpr std::string_view kText =
    "Hello, world!  It's 2026: 12345 tokens.\n\t\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac "
    "<s></s><unk><|endoftext|><|begin_of_text|> \xf0\x9f\x99\x82\xff end";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  auto tokenizer = zerod::data::Tokenizer::FromJson(json);
  if (!tokenizer.ok()) return 0;
  std::vector<int32_t> ids;
  (*tokenizer)->Encode(kText, &ids);
  // Every id must be one the model can embed: data preparation writes them as-is.
  for (int32_t id : ids) {
    FUZZ_CHECK(id >= 0 && id < (*tokenizer)->vocab_size());
  }
  // The second encoding goes through BPE's word cache and must agree with the first.
  std::vector<int32_t> again;
  (*tokenizer)->Encode(kText, &again);
  FUZZ_CHECK(again == ids);
  return 0;
}
