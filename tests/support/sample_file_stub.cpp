// TEMPORARY: engine/data/sample_file.h's classes for the training side's tests until the
// branch issue24-data, which implements them in engine/data/sample_file.cpp, is merged; then
// this file goes (a duplicate definition would not link). Reads the whole file into memory,
// checks nothing: a stand-in, not the implementation.
#include <cstring>
#include <fstream>
#include <iterator>

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

struct SampleFileWriter::State {
  std::string path;
  TokenDType dtype;
  int64_t vocab = 0;
  MemorySampleSet samples;
};
SampleFileWriter::~SampleFileWriter() = default;
absl::StatusOr<std::unique_ptr<SampleFileWriter>> SampleFileWriter::Create(const std::string& path,
                                                                           TokenDType dtype,
                                                                           int64_t vocab_size) {
  std::unique_ptr<SampleFileWriter> w(new SampleFileWriter());
  w->state_ = std::make_unique<State>();
  w->state_->path = path;
  w->state_->dtype = dtype;
  w->state_->vocab = vocab_size;
  return w;
}
absl::Status SampleFileWriter::Add(const std::vector<int32_t>& tokens,
                                   const std::vector<uint8_t>& trained) {
  state_->samples.Add(tokens, trained);
  return absl::OkStatus();
}
absl::Status SampleFileWriter::Finish() {
  const MemorySampleSet& s = state_->samples;
  const uint32_t bytes = state_->dtype == TokenDType::kUInt16 ? 2 : 4;
  std::ofstream tok(state_->path, std::ios::binary),
      meta(state_->path + ".samples", std::ios::binary);
  auto put = [&meta](const void* p, size_t n) { meta.write(static_cast<const char*>(p), n); };
  const uint32_t version = 1;
  const int64_t n = s.num_samples(), total = s.num_tokens();
  put("ZSAMPLE1", 8);
  put(&version, 4);
  put(&bytes, 4);
  put(&state_->vocab, 8);
  put(&n, 8);
  put(&total, 8);
  int64_t offset = 0;
  put(&offset, 8);
  std::vector<int32_t> t;
  std::vector<uint8_t> f, flags;
  for (int64_t i = 0; i < n; ++i) {
    s.Sample(i, t, f);
    offset += static_cast<int64_t>(t.size());
    put(&offset, 8);
    for (int32_t v : t) tok.write(reinterpret_cast<const char*>(&v), bytes);  // little-endian
    flags.insert(flags.end(), f.begin(), f.end());
  }
  put(flags.data(), flags.size());
  return absl::OkStatus();
}

struct SampleFile::State {
  MemorySampleSet samples;
};
SampleFile::~SampleFile() = default;
bool SampleFile::Exists(const std::string& path) { return std::ifstream(path + ".samples").good(); }
absl::StatusOr<std::unique_ptr<SampleFile>> SampleFile::Open(const std::string& path,
                                                             int64_t /*vocab_size*/) {
  std::ifstream tf(path, std::ios::binary), mf(path + ".samples", std::ios::binary);
  const std::string tok((std::istreambuf_iterator<char>(tf)), {});
  const std::string meta((std::istreambuf_iterator<char>(mf)), {});
  if (meta.size() < 40) return absl::InvalidArgumentError(path + ".samples: too short");
  uint32_t bytes;
  int64_t n;
  std::memcpy(&bytes, meta.data() + 12, 4);
  std::memcpy(&n, meta.data() + 24, 8);
  const char* offsets = meta.data() + 40;
  const char* flags = offsets + 8 * (n + 1);
  std::unique_ptr<SampleFile> f(new SampleFile());
  f->state_ = std::make_unique<State>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t a, b;
    std::memcpy(&a, offsets + 8 * i, 8);
    std::memcpy(&b, offsets + 8 * (i + 1), 8);
    std::vector<int32_t> t;
    std::vector<uint8_t> fl;
    for (int64_t k = a; k < b; ++k) {
      uint32_t v = 0;
      std::memcpy(&v, tok.data() + k * bytes, bytes);
      t.push_back(static_cast<int32_t>(v));
      fl.push_back(static_cast<uint8_t>(flags[k]));
    }
    f->state_->samples.Add(std::move(t), std::move(fl));
  }
  return f;
}
int64_t SampleFile::num_samples() const { return state_->samples.num_samples(); }
int64_t SampleFile::num_tokens() const { return state_->samples.num_tokens(); }
int64_t SampleFile::SampleLength(int64_t i) const { return state_->samples.SampleLength(i); }
void SampleFile::Sample(int64_t i, std::vector<int32_t>& tokens,
                        std::vector<uint8_t>& trained) const {
  state_->samples.Sample(i, tokens, trained);
}

}  // namespace zerod::data
