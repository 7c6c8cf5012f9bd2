// The JSON readers of record_reader.h (.jsonl, .jsonl.gz, .json) and the file-name dispatch
// (.csv: csv_reader.cpp, .parquet: parquet_reader.h).
#include "engine/data/record_reader.h"

#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/data/parquet_reader.h"
#include "engine/util/files.h"

namespace zerod::data {
namespace {

bool Blank(std::string_view line) { return line.find_first_not_of(" \t\r") == line.npos; }

// Lines of a plain or gzip'd file.
class LineSource {
 public:
  virtual ~LineSource() = default;
  // The next line (without "\n") into *line; false at the end. Errors name the file.
  virtual absl::StatusOr<bool> ReadLine(std::string* line) = 0;
};

class PlainLines : public LineSource {
 public:
  explicit PlainLines(std::ifstream in) : in_(std::move(in)) {}
  absl::StatusOr<bool> ReadLine(std::string* line) override {
    if (!std::getline(in_, *line)) {
      if (in_.bad()) return absl::DataLossError("reading failed");
      return false;
    }
    return true;
  }

 private:
  std::ifstream in_;
};

class GzipLines : public LineSource {
 public:
  explicit GzipLines(gzFile f) : f_(f) {}
  ~GzipLines() override { gzclose(f_); }
  absl::StatusOr<bool> ReadLine(std::string* line) override {
    line->clear();
    for (;;) {
      if (pos_ == buf_.size()) {
        buf_.resize(1 << 16);
        const int n = gzread(f_, buf_.data(), static_cast<unsigned>(buf_.size()));
        if (n < 0) {
          int err = 0;
          const char* msg = gzerror(f_, &err);
          return absl::DataLossError(absl::StrCat("not a whole gzip file: ", msg));
        }
        buf_.resize(static_cast<size_t>(n));
        pos_ = 0;
        if (n == 0) return !line->empty();
      }
      const size_t nl = buf_.find('\n', pos_);
      if (nl == std::string::npos) {
        line->append(buf_, pos_, std::string::npos);
        pos_ = buf_.size();
        continue;
      }
      line->append(buf_, pos_, nl - pos_);
      pos_ = nl + 1;
      return true;
    }
  }

 private:
  gzFile f_;
  std::string buf_;
  size_t pos_ = 0;
};

absl::Status NotAnObject(const std::string& where, const nlohmann::ordered_json& v) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": a record must be a JSON object, not ",
                                                 v.type_name(), " (", v.dump().substr(0, 60), ")"));
}

class JsonLinesReader : public RecordReader {
 public:
  JsonLinesReader(std::unique_ptr<LineSource> lines, std::string name)
      : lines_(std::move(lines)), name_(std::move(name)) {}
  absl::StatusOr<bool> Next(Record* record) override {
    std::string line;
    for (;;) {
      auto more = lines_->ReadLine(&line);
      if (!more.ok())
        return absl::Status(more.status().code(),
                            absl::StrCat(name_, ":", line_ + 1, ": ", more.status().message()));
      if (!*more) return false;
      ++line_;
      if (!Blank(line)) break;
    }
    record->where = absl::StrCat(name_, ":", line_);
    try {
      record->value = nlohmann::ordered_json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      return absl::InvalidArgumentError(
          absl::StrCat(record->where, ": not a JSON object (", e.what(), ")"));
    }
    if (!record->value.is_object()) return NotAnObject(record->where, record->value);
    return true;
  }

 private:
  std::unique_ptr<LineSource> lines_;
  std::string name_;
  int64_t line_ = 0;
};

class JsonArrayReader : public RecordReader {
 public:
  JsonArrayReader(nlohmann::ordered_json array, std::string name)
      : array_(std::move(array)), name_(std::move(name)) {}
  absl::StatusOr<bool> Next(Record* record) override {
    if (next_ >= array_.size()) return false;
    record->where = absl::StrCat(name_, ": element ", next_);
    record->value = std::move(array_[next_++]);
    if (!record->value.is_object()) return NotAnObject(record->where, record->value);
    return true;
  }

 private:
  nlohmann::ordered_json array_;
  std::string name_;
  size_t next_ = 0;
};

}  // namespace

bool IsRecordFile(const std::string& path) {
  for (const char* ext : {".jsonl", ".jsonl.gz", ".json", ".csv", ".parquet"}) {
    if (absl::EndsWith(path, ext)) return true;
  }
  return false;
}

absl::StatusOr<std::unique_ptr<RecordReader>> OpenRecords(const std::string& path) {
  if (absl::EndsWith(path, ".parquet")) return OpenParquetRecords(path);
  if (absl::EndsWith(path, ".jsonl.gz")) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (f == nullptr) return absl::NotFoundError(absl::StrCat(path, " cannot be read"));
    return std::make_unique<JsonLinesReader>(std::make_unique<GzipLines>(f), path);
  }
  if (absl::EndsWith(path, ".jsonl")) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat(path, " cannot be read"));
    return std::make_unique<JsonLinesReader>(std::make_unique<PlainLines>(std::move(in)), path);
  }
  if (!absl::EndsWith(path, ".json") && !absl::EndsWith(path, ".csv"))
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is no dataset file (.jsonl, .jsonl.gz, .json, .csv, .parquet)"));
  std::optional<std::string> text = ReadFileToString(path);
  if (!text) return absl::NotFoundError(absl::StrCat(path, " cannot be read"));
  if (absl::EndsWith(path, ".csv")) return MakeCsvReader(std::move(*text), path);
  const size_t first = text->find_first_not_of(" \t\r\n");
  if (first == std::string::npos || (*text)[first] != '[') {
    // Not an array: JSON lines under a .json name, as datasets' json loader accepts.
    std::ifstream in(path, std::ios::binary);
    return std::make_unique<JsonLinesReader>(std::make_unique<PlainLines>(std::move(in)), path);
  }
  nlohmann::ordered_json array;
  try {
    array = nlohmann::ordered_json::parse(*text);
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not valid JSON (", e.what(), ")"));
  }
  return std::make_unique<JsonArrayReader>(std::move(array), path);
}

}  // namespace zerod::data
