// Parquet dataset files (tests/fixtures/parquet, written by pyarrow as the Hub's files are):
// each row the record pyarrow's to_pylist() gives, across row groups; the types with no
// plain JSON form; a file that is no Parquet; a bad row named; a Parquet dataset prepares
// exactly as the same rows in JSON lines. Without pyarrow: the refusal saying how to enable it.
#include "engine/data/parquet_reader.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "engine/data/dataset_prep.h"
#include "engine/data/sample_file.h"
#include "gtest/gtest.h"

namespace zerod::data {
namespace {

using Json = nlohmann::ordered_json;

const std::string kFixtures = std::string(ZEROD_SOURCE_DIR) + "/tests/fixtures/parquet/";
const std::string kChatml = std::string(ZEROD_SOURCE_DIR) + "/tests/fixtures/sft/chatml";

#define SKIP_WITHOUT_PARQUET() \
  if (!ParquetSupported()) GTEST_SKIP() << "built without pyarrow (BuildWithoutParquet...)"

absl::StatusOr<std::vector<Record>> ReadAll(const std::string& path) {
  auto reader = OpenRecords(path);
  if (!reader.ok()) return reader.status();
  std::vector<Record> out;
  Record r;
  for (;;) {
    auto more = (*reader)->Next(&r);
    if (!more.ok()) return more.status();
    if (!*more) return out;
    out.push_back(r);
  }
}

std::vector<Json> JsonLines(const std::string& path) {
  std::ifstream in(path);
  std::vector<Json> out;
  for (std::string line; std::getline(in, line);) out.push_back(Json::parse(line));
  return out;
}

std::string Write(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/parquet_reader_" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(ParquetReaderTest, RowsAreTheObjectsPyarrowGivesAcrossRowGroups) {
  SKIP_WITHOUT_PARQUET();
  // chats.parquet: list<struct<role, content>>, large_string, a dictionary-encoded string,
  // int64 and a double with nulls; 5 rows in row groups of 2.
  for (const char* name : {"chats", "prompt_completion"}) {
    auto rows = ReadAll(kFixtures + name + ".parquet");
    ASSERT_TRUE(rows.ok()) << rows.status();
    const std::vector<Json> expected = JsonLines(kFixtures + name + ".jsonl");
    ASSERT_EQ(rows->size(), expected.size()) << name;
    for (size_t i = 0; i < expected.size(); ++i) {
      // ordered_json compares key order too: the columns' order is kept.
      EXPECT_EQ((*rows)[i].value, expected[i]) << name << " row " << i + 1;
      EXPECT_EQ((*rows)[i].where, kFixtures + name + ".parquet: row " + std::to_string(i + 1));
    }
  }
}

TEST(ParquetReaderTest, BytesColumnsAreLeftOutAndOtherTypesKeepAJsonForm) {
  SKIP_WITHOUT_PARQUET();
  auto rows = ReadAll(kFixtures + "types.parquet");
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  const Json& row = (*rows)[0].value;
  EXPECT_EQ(row["text"], "kept");
  EXPECT_FALSE(row.contains("image"));  // binary
  ASSERT_TRUE(row["when"].is_string()) << row.dump();
  EXPECT_NE(row["when"].get<std::string>().find("2024-01-02 03:04:05"), std::string::npos)
      << row["when"];
  EXPECT_EQ(row["tags"], Json::parse(R"([{"key": "k", "value": 1}, {"key": "j", "value": 2}])"));
  EXPECT_EQ(row["grid"], Json::parse("[[1, 2], [], [3]]"));
  EXPECT_EQ(row["meta"], Json::parse(R"({"name": "x", "ok": true})"));  // its binary field out
}

TEST(ParquetReaderTest, FileThatIsNoParquetIsNamed) {
  SKIP_WITHOUT_PARQUET();
  const std::string path = Write("bad.parquet", "PAR1 this is no Parquet file");
  auto r = OpenRecords(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message().rfind(path + ": not a Parquet file", 0), 0u) << r.status();
}

TEST(ParquetReaderTest, MissingFileIsNotFound) {
  SKIP_WITHOUT_PARQUET();
  auto r = OpenRecords(::testing::TempDir() + "/parquet_reader_none.parquet");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
}

TEST(ParquetReaderTest, BadRecordIsNamedByItsRowAndField) {
  SKIP_WITHOUT_PARQUET();
  const std::string out = ::testing::TempDir() + "/parquet_reader_bad.bin";
  auto s = PrepareDataset(kFixtures + "bad_role.parquet", kChatml, {}, out);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().rfind(
                kFixtures + "bad_role.parquet: row 2: field \"messages\"[1].role: is \"bot\"", 0),
            0u)
      << s.status();
  EXPECT_FALSE(SampleFile::Exists(out));
}

// The whole path: the conversations of chats.parquet become the samples their JSON lines do
// (one conversation with no assistant message skipped in both).
TEST(ParquetReaderTest, ParquetDatasetPreparesAsItsJsonLines) {
  SKIP_WITHOUT_PARQUET();
  const std::string out = ::testing::TempDir() + "/parquet_reader_chats";
  auto from_parquet = PrepareDataset(kFixtures + "chats.parquet", kChatml, {}, out + "_pq.bin");
  ASSERT_TRUE(from_parquet.ok()) << from_parquet.status();
  auto from_jsonl = PrepareDataset(kFixtures + "chats.jsonl", kChatml, {}, out + "_jl.bin");
  ASSERT_TRUE(from_jsonl.ok()) << from_jsonl.status();
  EXPECT_EQ(from_parquet->format, DatasetFormat::kConversation);
  EXPECT_EQ(from_parquet->records, 5);
  EXPECT_EQ(from_parquet->samples, 4);
  EXPECT_EQ(from_parquet->skipped, 1);
  EXPECT_EQ(from_parquet->tokens, from_jsonl->tokens);
  EXPECT_EQ(from_parquet->trained_tokens, from_jsonl->trained_tokens);
  auto a = SampleFile::Open(out + "_pq.bin", from_parquet->vocab_size);
  auto b = SampleFile::Open(out + "_jl.bin", from_jsonl->vocab_size);
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<int32_t> ta, tb;
  std::vector<uint8_t> ma, mb;
  for (int64_t i = 0; i < (*a)->num_samples(); ++i) {
    (*a)->Sample(i, ta, ma);
    (*b)->Sample(i, tb, mb);
    EXPECT_EQ(ta, tb) << "sample " << i;
    EXPECT_EQ(ma, mb) << "sample " << i;
  }
}

TEST(ParquetReaderTest, BuildWithoutParquetSaysHowToEnableIt) {
  if (ParquetSupported()) GTEST_SKIP() << "this build reads Parquet";
  auto r = OpenRecords(kFixtures + "chats.parquet");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(r.status().message().find("pip install pyarrow"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("read_parquet"), std::string::npos) << r.status();
}

}  // namespace
}  // namespace zerod::data
