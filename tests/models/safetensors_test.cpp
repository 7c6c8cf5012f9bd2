#include "engine/models/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <vector>

#include "tests/support/test_env.h"

namespace zerod::models {
namespace {

using zerod::testing::TempDir;

// Writes raw bytes: an 8-byte header length, the header text, then `data`.
void WriteRaw(const std::string& path, const std::string& header, const std::string& data,
              uint64_t header_len_override = 0) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  const uint64_t len = header_len_override ? header_len_override : header.size();
  out.write(reinterpret_cast<const char*>(&len), 8);
  out << header << data;
}

TEST(SafetensorsTest, WriteThenReadRoundTripsEveryTensor) {
  TempDir dir;
  std::vector<float> a{1.f, 2.f, 3.f, 4.f, 5.f, 6.f};
  std::vector<uint16_t> b{0x3f80, 0x4000};  // bf16 1.0, 2.0
  ASSERT_TRUE(WriteSafetensors(dir.File("m.safetensors"),
                               {{"model.a", DType::kFloat32, {2, 3}, a.data()},
                                {"model.b", DType::kBFloat16, {2}, b.data()}},
                               {{"format", "pt"}})
                  .ok());
  auto f = SafetensorsFile::Open(dir.File("m.safetensors"));
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ((*f)->tensors().size(), 2u);
  const TensorInfo* ta = (*f)->Find("model.a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ta->dtype, DType::kFloat32);
  EXPECT_EQ(std::memcmp((*f)->Data(*ta), a.data(), 24), 0);
  const TensorInfo* tb = (*f)->Find("model.b");
  ASSERT_NE(tb, nullptr);
  EXPECT_EQ(tb->dtype, DType::kBFloat16);
  EXPECT_EQ(std::memcmp((*f)->Data(*tb), b.data(), 4), 0);
  EXPECT_EQ((*f)->metadata().at("format"), "pt");
  EXPECT_EQ((*f)->Find("missing"), nullptr);
}

TEST(SafetensorsTest, TruncatedFileNamesTheFileAndTheProblem) {
  TempDir dir;
  std::vector<float> a(100, 1.f);
  ASSERT_TRUE(
      WriteSafetensors(dir.File("m.safetensors"), {{"w", DType::kFloat32, {100}, a.data()}}).ok());
  std::ifstream in(dir.File("m.safetensors"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir.File("cut.safetensors"), std::ios::binary)
      << bytes.substr(0, bytes.size() - 40);
  auto f = SafetensorsFile::Open(dir.File("cut.safetensors"));
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("cut.safetensors"), std::string::npos) << f.status();
  EXPECT_NE(f.status().message().find("tensor w spans bytes [0, 400)"), std::string::npos)
      << f.status();
  std::ofstream(dir.File("tiny.safetensors"), std::ios::binary) << "abc";
  EXPECT_NE(
      SafetensorsFile::Open(dir.File("tiny.safetensors")).status().message().find("truncated"),
      std::string::npos);
}

TEST(SafetensorsTest, HeaderPointingPastTheEndIsRefused) {
  TempDir dir;
  WriteRaw(dir.File("m.safetensors"), "{}", "", /*header_len_override=*/1 << 20);
  auto f = SafetensorsFile::Open(dir.File("m.safetensors"));
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("points past the end of the file"), std::string::npos)
      << f.status();
}

TEST(SafetensorsTest, BadHeadersAreRefusedByName) {
  TempDir dir;
  const std::string eight(8, '\0');
  struct Case {
    std::string header, data, fragment;
  } cases[] = {
      {"not json", "", "not a JSON object"},
      {R"({"w": {"dtype": "F8_E4M3", "shape": [1], "data_offsets": [0, 1]}})", eight,
       "dtype \"F8_E4M3\""},
      {R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", eight,
       "holds 8 bytes but its shape and dtype need 12"},
      {R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
           "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
       eight, "overlap"},
      {R"({"w": {"dtype": "F32", "shape": [1]}})", eight, "lacks dtype, shape or data_offsets"},
  };
  for (const Case& c : cases) {
    WriteRaw(dir.File("m.safetensors"), c.header, c.data);
    auto f = SafetensorsFile::Open(dir.File("m.safetensors"));
    ASSERT_FALSE(f.ok()) << c.header;
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(f.status().message().find(c.fragment), std::string::npos) << f.status();
  }
  EXPECT_EQ(SafetensorsFile::Open(dir.File("absent.safetensors")).status().code(),
            absl::StatusCode::kNotFound);
}

// Found by tests/fuzz (corpus/safetensors/crash_*): byte counts that wrap around 64 bits,
// dims above INT64_MAX (negative once stored), and an empty tensor hiding an overlap were
// accepted. ParseSafetensorsHeader is what Open runs, over a buffer.
TEST(SafetensorsTest, ShapesThatWrapAndHiddenOverlapsAreRefused) {
  auto file = [](const std::string& header, size_t data_bytes) {
    const uint64_t len = header.size();
    return std::string(reinterpret_cast<const char*>(&len), 8) + header +
           std::string(data_bytes, '\0');
  };
  struct Case {
    std::string header;
    size_t data_bytes;
    std::string fragment;
  } cases[] = {
      {R"({"w": {"dtype": "F32", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}})", 0,
       "tensor w has a shape of more than 2^64 bytes"},
      {R"({"w": {"dtype": "F32", "shape": [9223372036854775808], "data_offsets": [0, 0]}})", 0,
       "tensor w has a bad shape"},
      {R"({"w": {"dtype": "U8", "shape": [18446744073709551615, 18446744073709551615],
           "data_offsets": [0, 1]}})",
       1, "tensor w has a bad shape"},
      {R"({"a": {"dtype": "U8", "shape": [100], "data_offsets": [0, 100]},
           "b": {"dtype": "U8", "shape": [0], "data_offsets": [10, 10]},
           "c": {"dtype": "U8", "shape": [10], "data_offsets": [50, 60]}})",
       100, "tensors a and c overlap"},
  };
  for (const Case& c : cases) {
    auto h = ParseSafetensorsHeader(file(c.header, c.data_bytes), "m.safetensors");
    ASSERT_FALSE(h.ok()) << c.header;
    EXPECT_EQ(h.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(h.status().message().find(c.fragment), std::string::npos) << h.status();
  }
  const std::string good = R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})";
  auto h = ParseSafetensorsHeader(file(good, 8), "m.safetensors");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->data_offset, 8 + good.size());
  ASSERT_EQ(h->tensors.size(), 1u);
  EXPECT_EQ(h->tensors[0].shape, (std::vector<int64_t>{2}));
}

}  // namespace
}  // namespace zerod::models
