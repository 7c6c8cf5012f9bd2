// TEMPORARY: MemorySampleSet (engine/data/sample_file.h) for the packer's tests until the
// branch issue24-data, which implements it in engine/data/sample_file.cpp, is merged; then
// this file goes (a duplicate definition would not link).
#include "engine/data/sample_file.h"

namespace zerod::data {

void MemorySampleSet::Add(std::vector<int32_t> tokens, std::vector<uint8_t> trained) {
  num_tokens_ += static_cast<int64_t>(tokens.size());
  tokens_.push_back(std::move(tokens));
  trained_.push_back(std::move(trained));
}
int64_t MemorySampleSet::num_samples() const { return static_cast<int64_t>(tokens_.size()); }
int64_t MemorySampleSet::num_tokens() const { return num_tokens_; }
int64_t MemorySampleSet::SampleLength(int64_t i) const {
  return static_cast<int64_t>(tokens_[static_cast<size_t>(i)].size());
}
void MemorySampleSet::Sample(int64_t i, std::vector<int32_t>& tokens,
                             std::vector<uint8_t>& trained) const {
  tokens = tokens_[static_cast<size_t>(i)];
  trained = trained_[static_cast<size_t>(i)];
}

}  // namespace zerod::data
