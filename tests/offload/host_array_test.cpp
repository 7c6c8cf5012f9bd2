#include "engine/offload/host_array.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <utility>

namespace zerod::offload {
namespace {

bool AllZero(const void* p, size_t bytes) {
  const unsigned char* c = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < bytes; ++i) {
    if (c[i] != 0) return false;
  }
  return true;
}

TEST(HostArrayTest, SmallArrayIsZeroFilledPageAlignedAndWritable) {
  HostArray a = HostArray::Allocate(1000).value();
  ASSERT_NE(a.data(), nullptr);
  EXPECT_EQ(a.bytes(), 1000u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data()) % 4096, 0u);
  EXPECT_TRUE(AllZero(a.data(), 1000));
  std::memset(a.data(), 7, 1000);
  EXPECT_EQ(a.as<unsigned char>()[999], 7);
}

TEST(HostArrayTest, LargeArrayIsHugePageAlignedZeroFilledAndWritable) {
  const size_t bytes = (size_t{64} << 20) + 12345;  // not a multiple of the huge page
  HostArray a = HostArray::Allocate(bytes).value();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a.data()) % (size_t{2} << 20), 0u);
  EXPECT_TRUE(AllZero(a.data(), bytes));
  float* f = a.as<float>();
  const size_t n = bytes / sizeof(float);
  for (size_t i = 0; i < n; ++i) f[i] = static_cast<float>(i);
  EXPECT_EQ(f[n - 1], static_cast<float>(n - 1));
}

TEST(HostArrayTest, ZeroBytesGiveAnEmptyArray) {
  HostArray a = HostArray::Allocate(0).value();
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(a.bytes(), 0u);
}

TEST(HostArrayTest, MovesTransferOwnership) {
  HostArray a = HostArray::Allocate(size_t{4} << 20).value();
  void* memory = a.data();
  a.as<int>()[0] = 42;
  HostArray b = std::move(a);
  EXPECT_EQ(a.data(), nullptr);  // NOLINT(bugprone-use-after-move): the moved-from state
  EXPECT_EQ(a.bytes(), 0u);
  EXPECT_EQ(b.data(), memory);
  EXPECT_EQ(b.bytes(), size_t{4} << 20);

  HostArray c = HostArray::Allocate(100).value();  // its mapping is returned on assignment
  c = std::move(b);
  EXPECT_EQ(c.data(), memory);
  EXPECT_EQ(c.as<int>()[0], 42);
  EXPECT_EQ(b.data(), nullptr);  // NOLINT(bugprone-use-after-move)
}

TEST(HostArrayTest, AnImpossibleSizeIsResourceExhaustedWithTheSize) {
  // 2^60 bytes: beyond any x86-64 address space, so mmap must refuse.
  absl::StatusOr<HostArray> a = HostArray::Allocate(size_t{1} << 60);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(a.status().message().find("1073741824.00 GiB"), std::string::npos)
      << a.status().message();
}

}  // namespace
}  // namespace zerod::offload
