// The Parquet reader of parquet_reader.h on pyarrow's Arrow and Parquet C++ libraries: the
// file read a record batch at a time (the reader's default batch, within one row group), each
// row turned into a JSON object column by column. The only file that includes Arrow.
#include "engine/data/parquet_reader.h"

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <parquet/arrow/reader.h>
#include <parquet/exception.h>

#include <exception>

#include "absl/strings/str_cat.h"

namespace zerod::data {
namespace {

using Json = nlohmann::ordered_json;

// Bytes have no JSON form (a JSON string is text); such columns and struct fields are left
// out of the records rather than failing a dataset over a column the format never reads.
bool HasJsonForm(const arrow::DataType& type) {
  switch (type.id()) {
    case arrow::Type::BINARY:
    case arrow::Type::LARGE_BINARY:
    case arrow::Type::BINARY_VIEW:
    case arrow::Type::FIXED_SIZE_BINARY:
      return false;
    case arrow::Type::DICTIONARY:
      return HasJsonForm(*static_cast<const arrow::DictionaryType&>(type).value_type());
    case arrow::Type::LIST:
    case arrow::Type::LARGE_LIST:
    case arrow::Type::FIXED_SIZE_LIST:
    case arrow::Type::LIST_VIEW:
    case arrow::Type::LARGE_LIST_VIEW:
    case arrow::Type::MAP:
      return HasJsonForm(*type.field(0)->type());
    default:
      return true;
  }
}

Json ToJson(const arrow::Array& array, int64_t i);

template <typename ArrayT>
Json Number(const arrow::Array& array, int64_t i) {
  return static_cast<const ArrayT&>(array).Value(i);
}

template <typename ArrayT>
Json Text(const arrow::Array& array, int64_t i) {
  return std::string(static_cast<const ArrayT&>(array).GetView(i));
}

// Lists of every layout: value_offset / value_length index into values(), which already
// accounts for the array's own offset.
template <typename ArrayT>
Json List(const arrow::Array& array, int64_t i) {
  const auto& list = static_cast<const ArrayT&>(array);
  const arrow::Array& values = *list.values();
  Json out = Json::array();
  const int64_t begin = list.value_offset(i);
  for (int64_t j = begin; j < begin + list.value_length(i); ++j) out.push_back(ToJson(values, j));
  return out;
}

Json Struct(const arrow::StructArray& array, int64_t i) {
  Json out = Json::object();
  const arrow::StructType& type = *array.struct_type();
  for (int k = 0; k < type.num_fields(); ++k) {
    if (!HasJsonForm(*type.field(k)->type())) continue;
    // field(k) is sliced to the struct's own offset, so row i is row i of the child.
    out[type.field(k)->name()] = ToJson(*array.field(k), i);
  }
  return out;
}

// Row i of `array` as pyarrow's to_pylist() gives it (HasJsonForm(array.type()) holds).
Json ToJson(const arrow::Array& array, int64_t i) {
  if (array.IsNull(i)) return nullptr;
  switch (array.type_id()) {
    case arrow::Type::NA:
      return nullptr;
    case arrow::Type::BOOL:
      return static_cast<const arrow::BooleanArray&>(array).Value(i);
    case arrow::Type::INT8:
      return Number<arrow::Int8Array>(array, i);
    case arrow::Type::INT16:
      return Number<arrow::Int16Array>(array, i);
    case arrow::Type::INT32:
      return Number<arrow::Int32Array>(array, i);
    case arrow::Type::INT64:
      return Number<arrow::Int64Array>(array, i);
    case arrow::Type::UINT8:
      return Number<arrow::UInt8Array>(array, i);
    case arrow::Type::UINT16:
      return Number<arrow::UInt16Array>(array, i);
    case arrow::Type::UINT32:
      return Number<arrow::UInt32Array>(array, i);
    case arrow::Type::UINT64:
      return Number<arrow::UInt64Array>(array, i);
    case arrow::Type::FLOAT:
      return Number<arrow::FloatArray>(array, i);
    case arrow::Type::DOUBLE:
      return Number<arrow::DoubleArray>(array, i);
    case arrow::Type::STRING:
      return Text<arrow::StringArray>(array, i);
    case arrow::Type::LARGE_STRING:
      return Text<arrow::LargeStringArray>(array, i);
    case arrow::Type::STRING_VIEW:
      return Text<arrow::StringViewArray>(array, i);
    case arrow::Type::LIST:
      return List<arrow::ListArray>(array, i);
    case arrow::Type::LARGE_LIST:
      return List<arrow::LargeListArray>(array, i);
    case arrow::Type::FIXED_SIZE_LIST:
      return List<arrow::FixedSizeListArray>(array, i);
    case arrow::Type::LIST_VIEW:
      return List<arrow::ListViewArray>(array, i);
    case arrow::Type::LARGE_LIST_VIEW:
      return List<arrow::LargeListViewArray>(array, i);
    case arrow::Type::MAP:  // a list of struct<key, value>
      return List<arrow::MapArray>(array, i);
    case arrow::Type::STRUCT:
      return Struct(static_cast<const arrow::StructArray&>(array), i);
    case arrow::Type::DICTIONARY: {
      const auto& dict = static_cast<const arrow::DictionaryArray&>(array);
      return ToJson(*dict.dictionary(), dict.GetValueIndex(i));
    }
    default: {
      // Timestamps, dates, decimals, durations, half floats: Arrow's text for the value.
      auto scalar = array.GetScalar(i);
      if (!scalar.ok()) return nullptr;
      return (*scalar)->ToString();
    }
  }
}

class ParquetRecordReader : public RecordReader {
 public:
  ParquetRecordReader(std::unique_ptr<parquet::arrow::FileReader> file,
                      std::unique_ptr<arrow::RecordBatchReader> batches, std::string name)
      : file_(std::move(file)), batches_(std::move(batches)), name_(std::move(name)) {}

  absl::StatusOr<bool> Next(Record* record) override {
    try {
      while (batch_ == nullptr || next_in_batch_ >= batch_->num_rows()) {
        arrow::Status st = batches_->ReadNext(&batch_);
        if (!st.ok())
          return absl::DataLossError(
              absl::StrCat(name_, ": row ", row_ + 1, ": reading failed (", st.ToString(), ")"));
        if (batch_ == nullptr) return false;
        next_in_batch_ = 0;
      }
      ++row_;
      record->where = absl::StrCat(name_, ": row ", row_);
      record->value = Json::object();
      const arrow::Schema& schema = *batch_->schema();
      for (int k = 0; k < batch_->num_columns(); ++k) {
        if (!HasJsonForm(*schema.field(k)->type())) continue;
        record->value[schema.field(k)->name()] = ToJson(*batch_->column(k), next_in_batch_);
      }
      ++next_in_batch_;
      return true;
    } catch (const std::exception& e) {  // Parquet's decoders throw ParquetException
      return absl::DataLossError(
          absl::StrCat(name_, ": row ", row_ + 1, ": reading failed (", e.what(), ")"));
    }
  }

 private:
  // The batch reader reads through file_, which must outlive it (declared first).
  std::unique_ptr<parquet::arrow::FileReader> file_;
  std::unique_ptr<arrow::RecordBatchReader> batches_;
  std::string name_;
  std::shared_ptr<arrow::RecordBatch> batch_;
  int64_t next_in_batch_ = 0;
  int64_t row_ = 0;  // rows returned
};

}  // namespace

bool ParquetSupported() { return true; }

absl::StatusOr<std::unique_ptr<RecordReader>> OpenParquetRecords(const std::string& path) {
  try {
    auto input = arrow::io::ReadableFile::Open(path);
    if (!input.ok())
      return absl::NotFoundError(
          absl::StrCat(path, " cannot be read (", input.status().ToString(), ")"));
    auto file = parquet::arrow::OpenFile(*input, arrow::default_memory_pool());
    if (!file.ok())
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": not a Parquet file (", file.status().ToString(), ")"));
    auto batches = (*file)->GetRecordBatchReader();
    if (!batches.ok())
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": its columns cannot be read (", batches.status().ToString(), ")"));
    return std::make_unique<ParquetRecordReader>(std::move(*file), std::move(*batches), path);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a Parquet file (", e.what(), ")"));
  }
}

}  // namespace zerod::data
