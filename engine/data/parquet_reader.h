// Parquet dataset files (the format of datasets on the Hugging Face Hub) as records: each
// row a JSON object of its columns, as `datasets` / pyarrow's `to_pylist()` give it:
// strings (string, large_string, string_view, dictionary-encoded), numbers, booleans and
// nulls as themselves, lists as arrays, structs as objects (so a `messages` column of
// list<struct<role, content>> becomes TRL's conversation), maps as arrays of {key, value}.
// Columns of bytes (binary: images, audio) have no JSON form and are left out of the
// records; other types (timestamps, dates, decimals) become Arrow's text for them.
//
// Built on the Arrow and Parquet C++ libraries of pyarrow's wheel when CMake found them
// (parquet_reader.cpp); without them, parquet_reader_none.cpp refuses every file saying how
// to enable it. This header shows nothing of Arrow. Torch-free.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/data/record_reader.h"

namespace zerod::data {

// Whether this build reads Parquet (pyarrow was found at configure time).
bool ParquetSupported();

// Reads `path` a row group at a time; each record's `where` is "<path>: row N" (N from 1, as
// the CSV reader counts). NotFound when the file cannot be opened; InvalidArgument when it is
// not a Parquet file; Unimplemented (saying how to enable it) in a build without Parquet.
absl::StatusOr<std::unique_ptr<RecordReader>> OpenParquetRecords(const std::string& path);

}  // namespace zerod::data
