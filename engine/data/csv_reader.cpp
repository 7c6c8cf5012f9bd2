// CSV records (record_reader.h): RFC 4180 as pandas and datasets write it. Commas separate
// cells, CRLF or LF ends a row, a cell in double quotes may hold commas, line breaks and ""
// (one quote). The first row names the columns; each later row becomes an object of
// strings, column order kept. Blank lines are skipped (a trailing newline, a gap).
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/data/record_reader.h"

namespace zerod::data {
namespace {

class CsvReader : public RecordReader {
 public:
  CsvReader(std::string text, std::string name) : text_(std::move(text)), name_(std::move(name)) {
    if (text_.compare(0, 3, "\xEF\xBB\xBF") == 0) pos_ = 3;  // Excel's byte-order mark
  }

  absl::StatusOr<bool> Next(Record* record) override {
    if (header_.empty()) {
      int64_t unused = 0;
      auto header = ReadRow(&header_, &unused);
      if (!header.ok()) return header.status();
      if (!*header)
        return absl::InvalidArgumentError(
            absl::StrCat(name_, ": empty; a CSV dataset starts with a header row of column names"));
    }
    std::vector<std::string> cells;
    int64_t line = 0;
    auto more = ReadRow(&cells, &line);
    if (!more.ok() || !*more) return more;
    ++row_;
    record->where = absl::StrCat(name_, ": row ", row_, " (line ", line, ")");
    if (cells.size() != header_.size())
      return absl::InvalidArgumentError(absl::StrCat(record->where, ": ", cells.size(),
                                                     " cells, but the header has ", header_.size(),
                                                     " columns"));
    record->value = nlohmann::ordered_json::object();
    for (size_t i = 0; i < cells.size(); ++i) record->value[header_[i]] = std::move(cells[i]);
    return true;
  }

 private:
  // One row's cells and the line it starts on; false at the end of the text. Skips blank
  // lines first.
  absl::StatusOr<bool> ReadRow(std::vector<std::string>* cells, int64_t* start) {
    cells->clear();
    while (pos_ < text_.size() && (text_[pos_] == '\n' || text_[pos_] == '\r')) {
      if (text_[pos_] == '\n') ++line_;
      ++pos_;
    }
    if (pos_ >= text_.size()) return false;
    const int64_t start_line = *start = line_;
    std::string cell;
    for (;;) {
      if (pos_ < text_.size() && text_[pos_] == '"') {
        ++pos_;
        for (;;) {
          if (pos_ >= text_.size())
            return absl::InvalidArgumentError(absl::StrCat(
                name_, ":", start_line, ": a quoted cell is not closed (a \" is missing)"));
          const char c = text_[pos_++];
          if (c == '"') {
            if (pos_ < text_.size() && text_[pos_] == '"') {
              cell.push_back('"');
              ++pos_;
              continue;
            }
            break;
          }
          if (c == '\n') ++line_;
          cell.push_back(c);
        }
        if (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' && text_[pos_] != '\r')
          return absl::InvalidArgumentError(
              absl::StrCat(name_, ":", line_,
                           ": text after a quoted cell's closing \" (write \"\" for a quote)"));
      } else {
        while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' &&
               text_[pos_] != '\r')
          cell.push_back(text_[pos_++]);
      }
      cells->push_back(std::move(cell));
      cell.clear();
      if (pos_ >= text_.size()) return true;
      const char sep = text_[pos_++];
      if (sep == ',') continue;
      if (sep == '\r' && pos_ < text_.size() && text_[pos_] == '\n') ++pos_;
      ++line_;
      return true;
    }
  }

  std::string text_;
  std::string name_;
  size_t pos_ = 0;
  int64_t line_ = 1;  // of text_[pos_]
  int64_t row_ = 0;   // data rows returned
  std::vector<std::string> header_;
};

}  // namespace

std::unique_ptr<RecordReader> MakeCsvReader(std::string text, std::string name) {
  return std::make_unique<CsvReader>(std::move(text), std::move(name));
}

}  // namespace zerod::data
