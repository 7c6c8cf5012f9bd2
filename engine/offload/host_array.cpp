#include "engine/offload/host_array.h"

#include <sys/mman.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "absl/strings/str_format.h"

namespace zerod::offload {
namespace {

constexpr size_t kPage = size_t{4} << 10;
constexpr size_t kHugePage = size_t{2} << 20;

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

// Note [array colouring]: CpuAdam streams five to seven arrays at once. Were they all
// 2 MiB aligned, element i of every array would share its address bits below 2 MiB: the
// same cache sets and the same DRAM banks for every stream at once. Each array starts a
// different number of (4 KiB + 128 B) steps into its mapping instead, the way malloc'd
// arrays happen to.
constexpr size_t kColourStep = kPage + 128;
constexpr int kColours = 16;
std::atomic<int> next_colour{0};

}  // namespace

absl::StatusOr<HostArray> HostArray::Allocate(size_t bytes) {
  if (bytes == 0) return HostArray();
  // Huge pages back only 2 MiB-aligned 2 MiB ranges of a mapping, and mmap aligns to
  // 4 KiB: map 2 MiB more than needed and give back the unaligned head and the tail.
  const bool huge = bytes >= kHugePage;
  const size_t align = huge ? kHugePage : kPage;
  const size_t colour = huge ? kColourStep * (next_colour.fetch_add(1) % kColours) : 0;
  const size_t length = RoundUp(bytes + colour, align);
  const size_t over = huge ? length + kHugePage : length;
  void* raw = mmap(nullptr, over, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) {
    const int err = errno;
    return absl::ResourceExhaustedError(absl::StrFormat(
        "cannot map %.2f GiB of host memory for optimizer state (mmap: %s); free host "
        "memory, run fewer ranks per host, or spread the model over more hosts",
        static_cast<double>(bytes) / (size_t{1} << 30), std::strerror(err)));
  }
  char* base = static_cast<char*>(raw);
  if (huge) {
    const uintptr_t addr = reinterpret_cast<uintptr_t>(raw);
    char* aligned = base + (RoundUp(addr, kHugePage) - addr);
    if (aligned > base) munmap(base, aligned - base);
    char* end = aligned + length;
    if (end < base + over) munmap(end, base + over - end);
    base = aligned;
    // Only a request: THP may be off ("never") or the kernel may lack it; then the
    // array still works on 4 KiB pages. ZEROD_HUGEPAGES=0 leaves the kernel's default
    // (for comparing the two on a new machine: bench/cpu_adam_bench).
    const char* env = std::getenv("ZEROD_HUGEPAGES");
    if (env == nullptr || std::string(env) != "0") madvise(base, length, MADV_HUGEPAGE);
  }
  return HostArray(base, base + colour, bytes, length);
}

HostArray::~HostArray() { Release(); }

HostArray::HostArray(HostArray&& other) noexcept
    : base_(std::exchange(other.base_, nullptr)),
      data_(std::exchange(other.data_, nullptr)),
      bytes_(std::exchange(other.bytes_, 0)),
      mapped_bytes_(std::exchange(other.mapped_bytes_, 0)) {}

HostArray& HostArray::operator=(HostArray&& other) noexcept {
  if (this != &other) {
    Release();
    base_ = std::exchange(other.base_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
    bytes_ = std::exchange(other.bytes_, 0);
    mapped_bytes_ = std::exchange(other.mapped_bytes_, 0);
  }
  return *this;
}

void HostArray::Release() {
  if (base_ != nullptr) munmap(base_, mapped_bytes_);
  base_ = nullptr;
  data_ = nullptr;
  bytes_ = 0;
  mapped_bytes_ = 0;
}

}  // namespace zerod::offload
