// The dataset formats TRL names (https://huggingface.co/docs/trl/dataset_formats), told
// from the first record and turned into samples: token ids, each marked trained or not.
//
//   format                  record                                trained
//   text                    {"text": str}                         every token, EOS appended
//   prompt-completion       {"prompt": str, "completion": str}    the completion and EOS
//   conversation            {"messages": [{role, content}...]}    the assistant messages
//   chat prompt-completion  {"prompt": [msgs], "completion": [msgs]}  the completion's
//                                                                  assistant messages
// Conversations go through the model directory's chat template (engine/chat/) and end as
// it ends them: no EOS appended (as TRL), the template's end-of-turn token trained. What is
// trained is the tokens that overlap an assistant message's bytes (chat_template.h, Note
// [assistant spans]; token bytes from Tokenizer::EncodeWithOffsets): a token straddling a
// span's edge is trained, as transformers' return_assistant_tokens_mask marks it (from the
// token holding a span's first character to the token holding its last). `train_on_all`
// trains every token. Torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/chat/chat_template.h"
#include "engine/data/record_reader.h"
#include "engine/data/tokenizer.h"

namespace zerod::data {

// How records are read; part of the cache key (dataset_prep.h).
struct DatasetOptions {
  std::string text_field = "text";              // --text-field
  std::string messages_field = "messages";      // --messages-field
  std::string prompt_field = "prompt";          // --prompt-field
  std::string completion_field = "completion";  // --completion-field
  bool train_on_all = false;                    // --train-on-prompt: every token a label
};

enum class DatasetFormat { kText, kPromptCompletion, kConversation, kChatPromptCompletion };
const char* FormatName(DatasetFormat format);

// The format `first` is in, as TRL tells it: prompt and completion fields first (strings:
// prompt-completion; lists: its conversational form), then messages, then text. The error
// names the record and the fields looked for.
absl::StatusOr<DatasetFormat> DetectFormat(const Record& first, const DatasetOptions& options);

// Tokenizes records of one format. Holds the tokenizer, the EOS id and (for conversations)
// the chat template. Not thread-safe (the tokenizer's cache).
class SampleEncoder {
 public:
  // Reads model_dir's tokenizer.json, its EOS (prepare.h, EosTokenId) and, for the
  // conversational formats, its chat template.
  static absl::StatusOr<std::unique_ptr<SampleEncoder>> Create(const std::string& model_dir,
                                                               DatasetFormat format,
                                                               const DatasetOptions& options);
  // From parts already loaded (tests).
  SampleEncoder(std::unique_ptr<Tokenizer> tokenizer, int32_t eos_id,
                std::optional<chat::ChatTemplate> chat, DatasetFormat format,
                DatasetOptions options);

  // `record`'s sample into *tokens and *trained (replaced). Errors: "<where>: field
  // \"messages\"[2].role: ..." for a missing field, a wrong type, an unknown role, an empty
  // conversation, text that is not UTF-8, or the template's own error.
  absl::Status Encode(const Record& record, std::vector<int32_t>* tokens,
                      std::vector<uint8_t>* trained);

  const Tokenizer& tokenizer() const { return *tokenizer_; }
  int32_t eos_id() const { return eos_id_; }

 private:
  absl::Status EncodeConversation(const Record& record, std::vector<int32_t>* tokens,
                                  std::vector<uint8_t>* trained);

  std::unique_ptr<Tokenizer> tokenizer_;
  int32_t eos_id_;
  std::optional<chat::ChatTemplate> chat_;
  DatasetFormat format_;
  DatasetOptions options_;
  std::vector<TokenSpan> spans_;  // scratch
};

}  // namespace zerod::data
