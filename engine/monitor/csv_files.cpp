#include "engine/monitor/csv_files.h"

#include <cerrno>
#include <charconv>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "engine/util/files.h"
#include "engine/util/status_macros.h"

namespace zerod::monitor {
namespace {

absl::Status Errno(const std::string& what, const std::string& path) {
  return absl::UnavailableError(
      absl::StrCat("cannot ", what, " ", path, ": ", std::strerror(errno)));
}

bool Put(std::FILE* f, const std::string& row) {
  return std::fwrite(row.data(), 1, row.size(), f) == row.size();
}

}  // namespace

std::string CsvFileName(const std::string& tag) {
  std::string name = tag;
  for (char& c : name) {
    if (c == '/' || c == ' ') c = '_';
  }
  return name + ".csv";
}

std::string FormatValue(double value) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  return ec == std::errc() ? std::string(buf, end) : absl::StrCat(value);
}

absl::StatusOr<std::unique_ptr<CsvFiles>> CsvFiles::Create(const std::string& dir) {
  RETURN_IF_ERROR(MakeDirectories(dir));
  return std::unique_ptr<CsvFiles>(new CsvFiles(dir));
}

absl::StatusOr<std::FILE*> CsvFiles::Open(const std::string& tag) {
  if (auto it = files_.find(tag); it != files_.end()) return it->second.get();
  const std::string path = JoinPath(dir_, CsvFileName(tag));
  File file(std::fopen(path.c_str(), "ab"));
  if (file == nullptr) return Errno("open", path);
  // The header names the column by the tag's last part, as DeepSpeed's does.
  // Where an append stream starts is the C library's choice: ask for the end explicitly.
  if (std::fseek(file.get(), 0, SEEK_END) != 0) return Errno("open", path);
  if (std::ftell(file.get()) == 0 &&
      !Put(file.get(), absl::StrCat("step,", tag.substr(tag.rfind('/') + 1), "\r\n"))) {
    return Errno("write", path);
  }
  return files_.emplace(tag, std::move(file)).first->second.get();
}

absl::Status CsvFiles::Write(const std::vector<Scalar>& scalars) {
  for (const Scalar& s : scalars) {
    ASSIGN_OR_RETURN(std::FILE * f, Open(s.tag));
    if (!Put(f, absl::StrCat(s.step, ",", FormatValue(s.value), "\r\n")) || std::fflush(f) != 0) {
      return Errno("write", JoinPath(dir_, CsvFileName(s.tag)));
    }
  }
  return absl::OkStatus();
}

}  // namespace zerod::monitor
