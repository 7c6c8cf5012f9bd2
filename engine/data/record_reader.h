// Dataset files as records: JSON objects, one per sample, each with where it came from so
// an error can name the file and the line, element or row. The files fine-tuning data comes
// in (what `datasets.load_dataset` reads, TRL's and LLaMA-Factory's usual files):
//   .jsonl / .jsonl.gz   one JSON object per line; blank lines skipped (gzip via zlib)
//   .json                a JSON array of objects (or, like datasets, JSON lines)
//   .csv                 a header row naming the columns, then rows (RFC 4180 quoting);
//                        every cell a string
//   .parquet             the Hugging Face Hub's files, a row a record (parquet_reader.h; in
//                        a build without pyarrow, refused saying how to enable it)
// Any other name is no dataset file (IsRecordFile false): --prepare-data reads it as raw
// text. Torch-free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace zerod::data {

struct Record {
  nlohmann::ordered_json value;  // an object
  // "data.jsonl:12", "data.json: element 3", "data.csv: row 2 (line 3)", "d.parquet: row 7"
  std::string where;
};

class RecordReader {
 public:
  virtual ~RecordReader() = default;
  // The next record into *record; false at the end. Errors name the file and the record.
  virtual absl::StatusOr<bool> Next(Record* record) = 0;
};

// .jsonl, .jsonl.gz, .json, .csv, .parquet.
bool IsRecordFile(const std::string& path);

// NotFound when the file cannot be read; InvalidArgument for a name IsRecordFile refuses.
absl::StatusOr<std::unique_ptr<RecordReader>> OpenRecords(const std::string& path);

// The reader of CSV text (csv_reader.cpp); `name` prefixes every error and locator.
std::unique_ptr<RecordReader> MakeCsvReader(std::string text, std::string name);

}  // namespace zerod::data
