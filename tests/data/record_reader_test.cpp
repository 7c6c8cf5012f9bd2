// The dataset file readers: JSON lines (plain and gzip'd), JSON arrays, CSV with RFC 4180
// quoting; what each record says of where it came from; the errors. Parquet:
// parquet_reader_test.cpp.
#include "engine/data/record_reader.h"

#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace zerod::data {
namespace {

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/record_reader_" + name;
}

std::string Write(const std::string& name, const std::string& text) {
  const std::string path = TempPath(name);
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string WriteGzip(const std::string& name, const std::string& text) {
  const std::string path = TempPath(name);
  gzFile f = gzopen(path.c_str(), "wb");
  gzwrite(f, text.data(), static_cast<unsigned>(text.size()));
  gzclose(f);
  return path;
}

// All records of `path`, or the first error.
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

TEST(RecordReaderTest, DatasetFilesAreToldByTheirNames) {
  EXPECT_TRUE(IsRecordFile("a.jsonl"));
  EXPECT_TRUE(IsRecordFile("a.jsonl.gz"));
  EXPECT_TRUE(IsRecordFile("a.json"));
  EXPECT_TRUE(IsRecordFile("a.csv"));
  EXPECT_TRUE(IsRecordFile("a.parquet"));  // parquet_reader_test.cpp
  EXPECT_FALSE(IsRecordFile("a.txt"));
  EXPECT_FALSE(IsRecordFile("corpus"));
}

TEST(RecordReaderTest, JsonLinesSkipBlankLinesAndNameTheirLine) {
  auto r = ReadAll(Write("a.jsonl", "{\"text\": \"a\"}\n\n  \n{\"b\": 1, \"a\": 2}\n"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].value["text"], "a");
  EXPECT_EQ((*r)[1].where, TempPath("a.jsonl") + ":4");
  EXPECT_EQ((*r)[1].value.begin().key(), "b");  // the file's key order is kept
}

TEST(RecordReaderTest, JsonLinesWithoutAFinalNewlineAndWithCrlf) {
  auto r = ReadAll(Write("crlf.jsonl", "{\"text\": \"a\"}\r\n{\"text\": \"b\"}"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].value["text"], "b");
}

TEST(RecordReaderTest, BadJsonLineIsNamedByItsLine) {
  auto r = ReadAll(Write("bad.jsonl", "{\"text\": \"a\"}\n{\"text\": \n"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("bad.jsonl:2: not a JSON object"), std::string::npos)
      << r.status();
}

TEST(RecordReaderTest, ALineThatIsNoObjectIsAnError) {
  auto r = ReadAll(Write("list.jsonl", "[1, 2]\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("list.jsonl:1: a record must be a JSON object, not array"),
            std::string::npos)
      << r.status();
}

TEST(RecordReaderTest, NonUtf8JsonIsAnErrorNamingTheLine) {
  auto r = ReadAll(Write("latin1.jsonl", "{\"text\": \"ok\"}\n{\"text\": \"caf\xE9\"}\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("latin1.jsonl:2:"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("UTF-8"), std::string::npos) << r.status();
}

TEST(RecordReaderTest, GzipJsonLinesReadAsPlainOnes) {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "{\"text\": \"document " + std::to_string(i) + "\"}\n";
  auto r = ReadAll(WriteGzip("a.jsonl.gz", text));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 5000u);  // lines across zlib's buffer boundaries
  EXPECT_EQ((*r)[4999].value["text"], "document 4999");
  EXPECT_EQ((*r)[4999].where, TempPath("a.jsonl.gz") + ":5000");
}

TEST(RecordReaderTest, TruncatedGzipIsAnError) {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += "{\"text\": \"document " + std::to_string(i) + "\"}\n";
  const std::string path = WriteGzip("cut.jsonl.gz", text);
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  Write("cut2.jsonl.gz", bytes.substr(0, bytes.size() / 2));
  auto r = ReadAll(TempPath("cut2.jsonl.gz"));
  EXPECT_FALSE(r.ok());
}

TEST(RecordReaderTest, JsonArrayElementsAreRecords) {
  auto r = ReadAll(Write("a.json", " [{\"text\": \"a\"}, {\"text\": \"b\"}]"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].where, TempPath("a.json") + ": element 1");
}

TEST(RecordReaderTest, JsonFileOfLinesReadsAsJsonLines) {
  auto r = ReadAll(Write("lines.json", "{\"text\": \"a\"}\n{\"text\": \"b\"}\n"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->size(), 2u);
}

TEST(RecordReaderTest, JsonArrayOfNonObjectsNamesTheElement) {
  auto r = ReadAll(Write("nums.json", "[{\"text\": \"a\"}, 3]"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("nums.json: element 1: a record must be a JSON object"),
            std::string::npos)
      << r.status();
}

TEST(RecordReaderTest, CsvHeaderNamesColumnsAndQuotingFollowsRfc4180) {
  auto r = ReadAll(Write("a.csv",
                         "prompt,completion\r\n"
                         "\"Say \"\"hi\"\", please\",\"hi,\r\nthere\"\r\n"
                         "\r\n"
                         "plain,\n"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].value["prompt"], "Say \"hi\", please");
  EXPECT_EQ((*r)[0].value["completion"], "hi,\r\nthere");
  EXPECT_EQ((*r)[1].value["prompt"], "plain");
  EXPECT_EQ((*r)[1].value["completion"], "");
  EXPECT_EQ((*r)[1].where, TempPath("a.csv") + ": row 2 (line 5)");
  EXPECT_EQ((*r)[0].value.begin().key(), "prompt");
}

TEST(RecordReaderTest, CsvByteOrderMarkIsNotPartOfTheFirstColumn) {
  auto r = ReadAll(Write("bom.csv", "\xEF\xBB\xBFtext\nhello\n"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].value["text"], "hello");
}

TEST(RecordReaderTest, CsvRowWithTheWrongCellCountIsNamed) {
  auto r = ReadAll(Write("short.csv", "a,b\n1,2\n3\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("short.csv: row 2 (line 3): 1 cells, but the header has 2"),
            std::string::npos)
      << r.status();
}

TEST(RecordReaderTest, CsvUnclosedQuoteIsNamedByItsLine) {
  auto r = ReadAll(Write("open.csv", "a\n\"never closed\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("open.csv:2: a quoted cell is not closed"), std::string::npos)
      << r.status();
}

TEST(RecordReaderTest, MissingFileIsNotFound) {
  EXPECT_EQ(OpenRecords(TempPath("none.jsonl")).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace zerod::data
