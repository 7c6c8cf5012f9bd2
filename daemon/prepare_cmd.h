// `zerod --prepare-data`: text to token file, with a progress bar on stderr. Everything the
// command prints lives here so main() only parses flags.
#pragma once

#include <string>

namespace zerod::daemon {

struct PrepareFlags {
  bool bytes = false;     // --bytes: one token per byte
  std::string model_dir;  // --model: tokenizer.json's directory
  std::string input, output;
  // --format: auto (a dataset file, .jsonl/.jsonl.gz/.json/.csv/.parquet, becomes a sample file;
  // anything else a token stream), samples, or stream (today's token file, no .samples).
  std::string format = "auto";
  std::string text_field = "text", messages_field = "messages", prompt_field = "prompt",
              completion_field = "completion";
  bool train_on_prompt = false;  // --train-on-prompt: every token a label
};

// Runs the command; returns the process exit code (0 ok, 1 failed, 2 bad flags).
int RunPrepareData(const PrepareFlags& flags);

}  // namespace zerod::daemon
