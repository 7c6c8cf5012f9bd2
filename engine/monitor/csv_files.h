// DeepSpeed's csv_monitor format: one CSV file per scalar in one directory, named after
// the tag with '/' and ' ' turned into '_' ("Train/Samples/lr" -> Train_Samples_lr.csv),
// a header row "step,<the tag's last part>" and then one "step,value" row per point,
// each row ending in CRLF as Python's csv module (which DeepSpeed uses) ends them.
// Files are appended to, so a resumed job continues its curves. Torch-free.
#pragma once

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/monitor/step_scalars.h"

namespace zerod::monitor {

// "Train/Samples/lr" -> "Train_Samples_lr.csv".
std::string CsvFileName(const std::string& tag);
// A value as the shortest decimal that reads back as the same double ("0.001", "1e-05").
std::string FormatValue(double value);

class CsvFiles {
 public:
  // Creates `dir` (mkdir -p). Errors: it cannot be created.
  static absl::StatusOr<std::unique_ptr<CsvFiles>> Create(const std::string& dir);

  // Appends each scalar to its tag's file (opened, with the header row when it is new or
  // empty, on first use) and flushes them all. Errors: a file cannot be opened or written.
  absl::Status Write(const std::vector<Scalar>& scalars);

 private:
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  using File = std::unique_ptr<std::FILE, Closer>;

  explicit CsvFiles(std::string dir) : dir_(std::move(dir)) {}
  absl::StatusOr<std::FILE*> Open(const std::string& tag);

  const std::string dir_;
  std::map<std::string, File> files_;  // by tag
};

}  // namespace zerod::monitor
