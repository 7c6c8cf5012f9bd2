#include "daemon/prepare_cmd.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "absl/strings/match.h"
#include "engine/data/dataset_prep.h"
#include "engine/data/prepare.h"
#include "engine/data/record_reader.h"

namespace zerod::daemon {
namespace {

using Clock = std::chrono::steady_clock;

// The progress line: bytes read / total, tokens, MB/s. On a terminal it redraws in place
// (\r, at most 10 times a second); into a log it writes a line per 10% so logs stay short.
class ProgressBar {
 public:
  ProgressBar() : tty_(::isatty(STDERR_FILENO) == 1), start_(Clock::now()) {}

  void Update(const data::PrepareProgress& p, bool final = false) {
    const auto now = Clock::now();
    if (tty_) {
      if (!final && now - last_draw_ < std::chrono::milliseconds(100)) return;
    } else {
      const int decile =
          p.bytes_total > 0 ? static_cast<int>(10 * p.bytes_done / p.bytes_total) : 10;
      // The final line only when it says something the last one did not.
      if (final ? p.tokens == last_tokens_ : decile <= last_decile_) return;
      last_decile_ = decile;
    }
    last_tokens_ = p.tokens;
    last_draw_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double mb = static_cast<double>(p.bytes_done) / 1e6;
    const double pct =
        p.bytes_total > 0 ? 100.0 * static_cast<double>(p.bytes_done) / p.bytes_total : 100.0;
    std::fprintf(stderr, "%s%5.1f%% | %.1f/%.1f MB | %lld docs | %lld tokens | %.2f MB/s%s",
                 tty_ ? "\r" : "", pct, mb, static_cast<double>(p.bytes_total) / 1e6,
                 static_cast<long long>(p.documents), static_cast<long long>(p.tokens),
                 seconds > 0 ? mb / seconds : 0.0, tty_ ? "" : "\n");
    drawn_ = true;
  }

  // Ends the redrawn line so later output starts on a fresh one.
  void Finish() {
    if (tty_ && drawn_) std::fputc('\n', stderr);
  }

 private:
  const bool tty_;
  const Clock::time_point start_;
  Clock::time_point last_draw_{};
  int last_decile_ = 0;  // no line before 10%
  int64_t last_tokens_ = -1;
  bool drawn_ = false;
};

// A fine-tuning dataset into a sample file; prints the summary.
int RunPrepareSamples(const PrepareFlags& flags) {
  data::DatasetOptions options;
  options.text_field = flags.text_field;
  options.messages_field = flags.messages_field;
  options.prompt_field = flags.prompt_field;
  options.completion_field = flags.completion_field;
  options.train_on_all = flags.train_on_prompt;
  const bool tty = ::isatty(STDERR_FILENO) == 1;
  bool drawn = false;
  auto summary = data::PrepareDataset(
      flags.input, flags.model_dir, options, flags.output, [&](const data::DatasetSummary& s) {
        if (!tty) return;
        std::fprintf(stderr, "\r%lld records | %lld samples | %lld tokens",
                     static_cast<long long>(s.records), static_cast<long long>(s.samples),
                     static_cast<long long>(s.tokens));
        drawn = true;
      });
  if (drawn) std::fputc('\n', stderr);
  if (!summary.ok()) {
    std::fprintf(stderr, "zerod: error: %s\n", std::string(summary.status().message()).c_str());
    return 1;
  }
  const bool wide = summary->dtype == data::TokenDType::kUInt32;
  std::printf(
      "%s dataset: %lld records, %lld samples, %lld tokens, %lld trained, %lld skipped (no "
      "token to train on)\nwrote %s and %s.samples (%s, vocab %lld, EOS %d)\n",
      data::FormatName(summary->format), static_cast<long long>(summary->records),
      static_cast<long long>(summary->samples), static_cast<long long>(summary->tokens),
      static_cast<long long>(summary->trained_tokens), static_cast<long long>(summary->skipped),
      flags.output.c_str(), flags.output.c_str(), wide ? "uint32" : "uint16",
      static_cast<long long>(summary->vocab_size), summary->eos_id);
  return 0;
}

}  // namespace

int RunPrepareData(const PrepareFlags& flags) {
  if (flags.input.empty() || flags.output.empty()) {
    std::fprintf(stderr, "zerod: error: --prepare-data needs --input FILE and --output FILE\n");
    return 2;
  }
  if (flags.bytes) {
    auto n = data::PrepareByteTokens(flags.input, flags.output);
    if (!n.ok()) {
      std::fprintf(stderr, "zerod: error: %s\n", std::string(n.status().message()).c_str());
      return 1;
    }
    std::printf("wrote %lld tokens (uint16, byte-level) to %s\n", static_cast<long long>(*n),
                flags.output.c_str());
    return 0;
  }
  if (flags.model_dir.empty()) {
    std::fprintf(stderr,
                 "zerod: error: --prepare-data needs --model DIR (with tokenizer.json) or "
                 "--bytes\n");
    return 2;
  }
  const bool dataset = data::IsRecordFile(flags.input);
  if (flags.format == "samples" && !dataset) {
    std::fprintf(stderr,
                 "zerod: error: --format samples needs a dataset file (.jsonl, .jsonl.gz, .json, "
                 ".csv, .parquet); %s is read as raw text\n",
                 flags.input.c_str());
    return 2;
  }
  if (dataset && flags.format != "stream") return RunPrepareSamples(flags);
  if (flags.format == "stream" && dataset && !absl::EndsWith(flags.input, ".jsonl")) {
    std::fprintf(stderr,
                 "zerod: error: --format stream reads .txt and .jsonl (its \"text\" field); "
                 "drop --format for %s\n",
                 flags.input.c_str());
    return 2;
  }
  ProgressBar bar;
  data::PrepareProgress last;
  auto summary = data::PrepareTokenizedData({flags.model_dir, flags.input, flags.output},
                                            [&](const data::PrepareProgress& p) {
                                              last = p;
                                              bar.Update(p);
                                            });
  if (summary.ok()) bar.Update(last, /*final=*/true);
  bar.Finish();
  if (!summary.ok()) {
    std::fprintf(stderr, "zerod: error: %s\n", std::string(summary.status().message()).c_str());
    return 1;
  }
  const bool wide = summary->dtype == data::TokenDType::kUInt32;
  std::printf("wrote %lld documents, %lld tokens (%s, vocab %lld, EOS %d after each) to %s\n",
              static_cast<long long>(summary->documents), static_cast<long long>(summary->tokens),
              wide ? "uint32" : "uint16", static_cast<long long>(summary->vocab_size),
              summary->eos_id, flags.output.c_str());
  if (wide) std::printf("the vocabulary exceeds 65536 ids: pass --data-dtype uint32 to --train\n");
  return 0;
}

}  // namespace zerod::daemon
