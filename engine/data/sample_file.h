// A prepared fine-tuning dataset: samples (documents, prompt-completion pairs, rendered
// conversations) as token ids, each token marked as a label (trained: the loss counts its
// prediction) or as context only (a prompt, a user turn, a chat template's header).
//
// On disk, two files side by side:
//   <path>          the tokens, samples concatenated, in the token file format of
//                   token_dataset.h (uint16 or uint32 little-endian, no header), so the
//                   pre-training readers can still read it as one stream;
//   <path>.samples  little-endian: magic "ZSAMPLE1" (8 bytes), uint32 version (1),
//                   uint32 token bytes (2 or 4), int64 vocab_size, int64 num_samples,
//                   int64 num_tokens, int64 offsets[num_samples + 1] (sample i is tokens
//                   [offsets[i], offsets[i+1]); offsets[0] = 0, the last = num_tokens),
//                   then uint8 trained[num_tokens] (1: a label).
// Both are memory-mapped read-only. Torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/data/token_dataset.h"

namespace zerod::data {

// Samples to train or evaluate on, wherever they live (a file, or memory in tests).
class SampleSet {
 public:
  virtual ~SampleSet() = default;
  virtual int64_t num_samples() const = 0;
  virtual int64_t num_tokens() const = 0;  // over all samples
  virtual int64_t SampleLength(int64_t i) const = 0;
  // Sample i's token ids and label flags (1: trained), replacing the vectors' contents.
  virtual void Sample(int64_t i, std::vector<int32_t>& tokens,
                      std::vector<uint8_t>& trained) const = 0;
};

// Samples held in memory (tests; a split of another set).
class MemorySampleSet : public SampleSet {
 public:
  void Add(std::vector<int32_t> tokens, std::vector<uint8_t> trained);
  int64_t num_samples() const override;
  int64_t num_tokens() const override;
  int64_t SampleLength(int64_t i) const override;
  void Sample(int64_t i, std::vector<int32_t>& tokens,
              std::vector<uint8_t>& trained) const override;

 private:
  std::vector<std::vector<int32_t>> tokens_;
  std::vector<std::vector<uint8_t>> trained_;
  int64_t num_tokens_ = 0;
};

// Appends samples to a new <path> and <path>.samples; Finish() publishes both (written to
// temporary names, fsync'd, renamed), so a failed preparation leaves no half file.
class SampleFileWriter {
 public:
  static absl::StatusOr<std::unique_ptr<SampleFileWriter>> Create(const std::string& path,
                                                                  TokenDType dtype,
                                                                  int64_t vocab_size);
  ~SampleFileWriter();  // removes the temporary files unless Finish succeeded
  absl::Status Add(const std::vector<int32_t>& tokens, const std::vector<uint8_t>& trained);
  absl::Status Finish();

 private:
  SampleFileWriter() = default;
  struct State;
  std::unique_ptr<State> state_;
};

// A prepared dataset on disk. Open checks the header, the offsets, the sizes of both files
// and every token id < vocab_size, naming the file and what is wrong.
class SampleFile : public SampleSet {
 public:
  static absl::StatusOr<std::unique_ptr<SampleFile>> Open(const std::string& path,
                                                          int64_t vocab_size);
  static bool Exists(const std::string& path);  // <path>.samples is there
  ~SampleFile() override;
  int64_t num_samples() const override;
  int64_t num_tokens() const override;
  int64_t SampleLength(int64_t i) const override;
  void Sample(int64_t i, std::vector<int32_t>& tokens,
              std::vector<uint8_t>& trained) const override;

 private:
  SampleFile() = default;
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace zerod::data
