#include "engine/offload/pinned_pool.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

namespace zerod::offload {
namespace {

TEST(PinnedPoolTest, CarvesSmallRequestsFromOneBlockAligned) {
  PinnedPool pool({.pin = false, .block_bytes = 1 << 20});
  void* a = pool.Allocate(1000).value();
  void* b = pool.Allocate(3000).value();
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 256, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % 256, 0u);
  EXPECT_EQ(pool.reserved_bytes(), 1 << 20);  // one block
  EXPECT_EQ(pool.in_use_bytes(), 1024 + 3072);
  std::memset(a, 1, 1000);  // usable
  std::memset(b, 2, 3000);
  EXPECT_EQ(static_cast<unsigned char*>(a)[999], 1);
}

TEST(PinnedPoolTest, LargeRequestsGetABlockOfTheirOwn) {
  PinnedPool pool({.pin = false, .block_bytes = 4096});
  (void)pool.Allocate(100).value();
  (void)pool.Allocate(10000).value();
  EXPECT_EQ(pool.reserved_bytes(), 4096 + 10240);
}

TEST(PinnedPoolTest, FreedMemoryIsReusedBySameSizedRequests) {
  PinnedPool pool({.pin = false, .block_bytes = 1 << 16});
  void* a = pool.Allocate(5000).value();
  pool.Free(a);
  EXPECT_EQ(pool.in_use_bytes(), 0);
  void* b = pool.Allocate(5000).value();
  EXPECT_EQ(a, b);
  EXPECT_EQ(pool.reserved_bytes(), 1 << 16);
  pool.Free(b);
  pool.Free(b);                                // a second free is ignored
  pool.Free(reinterpret_cast<void*>(0x1234));  // unknown pointers too
  EXPECT_EQ(pool.in_use_bytes(), 0);
}

TEST(PinnedPoolTest, CpuBuildsNeverPin) {
  PinnedPool pool({.pin = true});
#ifdef ZEROD_CUDA
  SUCCEED();
#else
  EXPECT_FALSE(pool.pinned());
#endif
}

TEST(PinnedPoolTest, ImpossibleRequestIsResourceExhaustedWithTheSize) {
  PinnedPool pool({.pin = false});
  auto p = pool.Allocate(size_t{1} << 62);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(p.status().message().find("GiB"), std::string::npos) << p.status();
}

}  // namespace
}  // namespace zerod::offload
