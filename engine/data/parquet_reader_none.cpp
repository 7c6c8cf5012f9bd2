// The Parquet reader of a build without pyarrow's Arrow and Parquet libraries: refuses every
// file, saying how to enable Parquet or how to convert the file to JSON lines instead.
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/data/parquet_reader.h"

namespace zerod::data {

bool ParquetSupported() { return false; }

absl::StatusOr<std::unique_ptr<RecordReader>> OpenParquetRecords(const std::string& path) {
  const std::string stem =
      absl::EndsWith(path, ".parquet") ? path.substr(0, path.size() - 8) : path;
  return absl::UnimplementedError(absl::StrCat(
      path,
      ": this zerod was built without Parquet (CMake found no pyarrow beside torch); install "
      "it with `.venv/bin/pip install pyarrow==22.0.0` (or point -DZEROD_PYARROW_DIR at a "
      "pyarrow package) and configure the build again, or convert the file to JSON lines: "
      "python -c \"import pandas; pandas.read_parquet('",
      path, "').to_json('", stem, ".jsonl', orient='records', lines=True, force_ascii=False)\""));
}

}  // namespace zerod::data
