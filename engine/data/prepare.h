// Turning text into a token file (nanoGPT's format: raw little-endian ids, no header).
// Two vocabularies: bytes (one token per byte, vocab_size 256, no tokenizer file), and a
// Hugging Face model directory's tokenizer.json. Torch-free; prints nothing (the caller
// draws progress from the callback).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "engine/data/token_dataset.h"
#include "engine/data/tokenizer.h"

namespace zerod::data {

// Writes every byte of `input` as one little-endian uint16 token to `output`.
// Returns the token count. NotFound / PermissionDenied name the file that failed.
absl::StatusOr<int64_t> PrepareByteTokens(const std::string& input, const std::string& output);

struct PrepareOptions {
  std::string model_dir;  // holds tokenizer.json, and config.json or tokenizer_config.json
  // .jsonl: one document per line, its "text" field (blank lines are skipped).
  // Anything else (.txt): the whole file is one document, tokenized in one piece as the
  // tokenizers library would, so nothing depends on where lines or paragraphs break.
  std::string input;
  std::string output;
};

struct PrepareProgress {
  int64_t bytes_done = 0;   // of the input file
  int64_t bytes_total = 0;  // the input file's size
  int64_t documents = 0;    // finished
  int64_t tokens = 0;       // written, EOS included
};

struct PrepareSummary {
  int64_t documents = 0;
  int64_t tokens = 0;  // EOS included
  TokenDType dtype = TokenDType::kUInt16;
  int32_t eos_id = 0;
  int64_t vocab_size = 0;
};

// The id appended after every document: config.json's eos_token_id (the first one when it
// is a list), else tokenizer_config.json's eos_token looked up in the tokenizer. NotFound
// when neither says; InvalidArgument when the token is not in the vocabulary.
absl::StatusOr<int32_t> EosTokenId(const std::string& model_dir, const Tokenizer& tokenizer);

// Tokenizes `options.input` with model_dir/tokenizer.json into `options.output`, EOS after
// every document; uint16 when every id fits, else uint32. `progress` (optional) is called
// often; the caller throttles. Errors name the file, and the line for .jsonl.
absl::StatusOr<PrepareSummary> PrepareTokenizedData(
    const PrepareOptions& options,
    const std::function<void(const PrepareProgress&)>& progress = nullptr);

}  // namespace zerod::data
