#include "engine/data/dataset_prep.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/data/sample_file.h"
#include "engine/util/files.h"

namespace zerod::data {
namespace {

// The key's hash: FNV-1a, 64 bits. Each part is length-prefixed so parts cannot run into
// one another.
class Fnv64 {
 public:
  void Add(std::string_view bytes) {
    const uint64_t n = bytes.size();
    Mix(reinterpret_cast<const char*>(&n), sizeof(n));
    Mix(bytes.data(), bytes.size());
  }
  uint64_t value() const { return h_; }

 private:
  void Mix(const char* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      h_ ^= static_cast<unsigned char>(p[i]);
      h_ *= 0x100000001b3ULL;
    }
  }
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The summary of a preparation found on disk: what the sample file can tell.
absl::StatusOr<DatasetSummary> SummaryOf(const std::string& path, const std::string& model_dir,
                                         const DatasetOptions& options, DatasetFormat format) {
  auto encoder = SampleEncoder::Create(model_dir, DatasetFormat::kText, options);
  if (!encoder.ok()) return encoder.status();
  DatasetSummary s;
  s.format = format;
  s.vocab_size = (*encoder)->tokenizer().vocab_size();
  s.eos_id = (*encoder)->eos_id();
  s.dtype = s.vocab_size <= 65536 ? TokenDType::kUInt16 : TokenDType::kUInt32;
  auto file = SampleFile::Open(path, s.vocab_size);
  if (!file.ok()) return file.status();
  s.records = s.skipped = -1;
  s.samples = (*file)->num_samples();
  s.tokens = (*file)->num_tokens();
  std::vector<int32_t> tokens;
  std::vector<uint8_t> trained;
  for (int64_t i = 0; i < s.samples; ++i) {
    (*file)->Sample(i, tokens, trained);
    for (uint8_t t : trained) s.trained_tokens += t;
  }
  return s;
}

}  // namespace

absl::StatusOr<DatasetSummary> PrepareDataset(
    const std::string& dataset, const std::string& model_dir, const DatasetOptions& options,
    const std::string& output, const std::function<void(const DatasetSummary&)>& progress) {
  auto reader = OpenRecords(dataset);
  if (!reader.ok()) return reader.status();
  Record record;
  auto more = (*reader)->Next(&record);
  if (!more.ok()) return more.status();
  if (!*more) return absl::InvalidArgumentError(absl::StrCat(dataset, ": no records"));
  auto format = DetectFormat(record, options);
  if (!format.ok()) return format.status();
  auto encoder = SampleEncoder::Create(model_dir, *format, options);
  if (!encoder.ok()) return encoder.status();

  DatasetSummary s;
  s.format = *format;
  s.vocab_size = (*encoder)->tokenizer().vocab_size();
  s.eos_id = (*encoder)->eos_id();
  s.dtype = s.vocab_size <= 65536 ? TokenDType::kUInt16 : TokenDType::kUInt32;
  auto writer = SampleFileWriter::Create(output, s.dtype, s.vocab_size);
  if (!writer.ok()) return writer.status();
  const std::string first_where = record.where;
  std::vector<int32_t> tokens;
  std::vector<uint8_t> trained;
  for (; *more; more = (*reader)->Next(&record)) {
    ++s.records;
    if (s.records > 1) {
      // Every record in the first one's format: a stray record is named, not guessed at.
      auto f = DetectFormat(record, options);
      if (f.ok() && *f != *format)
        return absl::InvalidArgumentError(
            absl::StrCat(record.where, ": a ", FormatName(*f), " record in a ", FormatName(*format),
                         " dataset (the format is the first record's, ", first_where, ")"));
    }
    if (auto st = (*encoder)->Encode(record, &tokens, &trained); !st.ok()) return st;
    int64_t labels = 0;
    for (uint8_t t : trained) labels += t;
    if (labels == 0) {
      ++s.skipped;
    } else {
      if (auto st = (*writer)->Add(tokens, trained); !st.ok()) return st;
      ++s.samples;
      s.tokens += static_cast<int64_t>(tokens.size());
      s.trained_tokens += labels;
    }
    if (progress && s.records % 1000 == 0) progress(s);
  }
  if (!more.ok()) return more.status();
  if (s.trained_tokens == 0)
    return absl::InvalidArgumentError(absl::StrCat(
        dataset, ": no record has a token to train on (", s.records, " records, ", s.skipped,
        " skipped: no assistant message in any conversation?); nothing to prepare"));
  if (auto st = (*writer)->Finish(); !st.ok()) return st;
  if (progress) progress(s);
  return s;
}

absl::StatusOr<std::string> PreparationKey(const std::string& dataset, const std::string& model_dir,
                                           const DatasetOptions& options, bool in_cache_dir) {
  struct stat st {};
  if (::stat(dataset.c_str(), &st) != 0)
    return absl::NotFoundError(absl::StrCat(dataset, " cannot be read"));
  Fnv64 h;
  h.Add("zerod-dataset-v1");  // bump when the preparation itself changes
  for (const char* name :
       {"tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "config.json"}) {
    h.Add(name);
    h.Add(ReadFileToString(JoinPath(model_dir, name)).value_or("<none>"));
  }
  for (const std::string* field : {&options.text_field, &options.messages_field,
                                   &options.prompt_field, &options.completion_field})
    h.Add(*field);
  h.Add(options.train_on_all ? "all" : "labels");
  h.Add(absl::StrCat(st.st_size, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec));
  if (in_cache_dir) {
    char* real = ::realpath(dataset.c_str(), nullptr);
    h.Add(real != nullptr ? real : dataset);
    std::free(real);
  }
  return absl::StrFormat("%016x", h.value());
}

absl::StatusOr<PreparedDataset> PrepareCached(const std::string& dataset,
                                              const std::string& model_dir,
                                              const DatasetOptions& options,
                                              const std::string& cache_dir) {
  const std::string folder = DirName(dataset);
  const bool beside = ::access(folder.c_str(), W_OK) == 0;
  if (!beside && cache_dir.empty())
    return absl::PermissionDeniedError(absl::StrCat(
        "the prepared dataset cannot be written beside ", dataset, " (", folder,
        " is not writable); give a cache directory, or prepare it with zerod --prepare-data "
        "into a writable folder"));
  if (!beside) {
    if (auto st = MakeDirectories(cache_dir); !st.ok()) return st;
  }
  auto key = PreparationKey(dataset, model_dir, options, /*in_cache_dir=*/!beside);
  if (!key.ok()) return key.status();
  PreparedDataset out;
  out.path = beside ? absl::StrCat(dataset, ".zerod-", *key, ".bin")
                    : JoinPath(cache_dir, absl::StrCat(BaseName(dataset), ".zerod-", *key, ".bin"));
  if (SampleFile::Exists(out.path)) {
    // The format is the first record's; reading one record is cheap.
    auto reader = OpenRecords(dataset);
    if (!reader.ok()) return reader.status();
    Record first;
    auto more = (*reader)->Next(&first);
    if (!more.ok()) return more.status();
    DatasetFormat format = DatasetFormat::kText;
    if (*more) {
      if (auto f = DetectFormat(first, options); f.ok()) format = *f;
    }
    auto summary = SummaryOf(out.path, model_dir, options, format);
    if (summary.ok()) {
      out.summary = *summary;
      out.reused = true;
      return out;
    }
    // A damaged file is prepared again (and replaced by the rename).
  }
  auto summary = PrepareDataset(dataset, model_dir, options, out.path);
  if (!summary.ok()) return summary.status();
  out.summary = *summary;
  return out;
}

}  // namespace zerod::data
