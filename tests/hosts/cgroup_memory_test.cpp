// Host memory from the cgroup limit (engine/util/cgroup_memory.h), over made-up cgroup
// trees: v2's memory.max, v1's memory.limit_in_bytes, ancestors, and no limit.
#include "engine/util/cgroup_memory.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace zerod {
namespace {

namespace fs = std::filesystem;

class CgroupMemoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("zerod-cgroup-" + std::to_string(getpid()));
    fs::create_directories(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  void Write(const std::string& rel, const std::string& text) {
    fs::create_directories((root_ / rel).parent_path());
    std::ofstream(root_ / rel) << text << "\n";
  }
  std::string root() const { return root_.string(); }
  fs::path root_;
};

TEST_F(CgroupMemoryTest, V2MemoryMaxOfTheSlurmStepIsTheLimit) {
  // Slurm's cgroup/v2 plugin: the job's limit on the job, the step below it.
  Write("system.slice/slurmstepd.scope/job_12/memory.max", "68719476736");
  Write("system.slice/slurmstepd.scope/job_12/step_0/memory.max", "max");
  const auto limit = CgroupMemoryLimit("0::/system.slice/slurmstepd.scope/job_12/step_0\n", root());
  ASSERT_TRUE(limit.has_value());
  EXPECT_EQ(*limit, int64_t{64} << 30);
}

TEST_F(CgroupMemoryTest, V1LimitInBytesAndTheSmallestAncestorWins) {
  Write("memory/slurm/uid_0/job_7/memory.limit_in_bytes", "34359738368");
  Write("memory/slurm/uid_0/job_7/step_0/memory.limit_in_bytes", "9223372036854771712");
  Write("memory/slurm/memory.limit_in_bytes", "17179869184");  // the tighter ancestor
  const auto limit =
      CgroupMemoryLimit("4:memory:/slurm/uid_0/job_7/step_0\n0::/\n", root());
  ASSERT_TRUE(limit.has_value());
  EXPECT_EQ(*limit, int64_t{16} << 30);
}

TEST_F(CgroupMemoryTest, NoLimitWhenMaxOrUnlimitedOrNoFiles) {
  Write("memory.max", "max");
  Write("memory/memory.limit_in_bytes", "9223372036854771712");
  EXPECT_FALSE(CgroupMemoryLimit("0::/\n4:memory:/\n", root()).has_value());
  EXPECT_FALSE(CgroupMemoryLimit("0::/not/there\n", root()).has_value());
  EXPECT_FALSE(CgroupMemoryLimit("", root()).has_value());
}

TEST_F(CgroupMemoryTest, HybridHierarchyReadsUnifiedAndTheMemoryController) {
  Write("unified/job/memory.max", "2147483648");
  Write("memory/job/memory.limit_in_bytes", "4294967296");
  const auto limit = CgroupMemoryLimit("4:cpuacct,memory:/job\n0::/job\n", root());
  ASSERT_TRUE(limit.has_value());
  EXPECT_EQ(*limit, int64_t{2} << 30);
}

TEST(ThisHostMemory, IsAtMostMemTotal) {
  const HostMemory m = ThisHostMemory();
  EXPECT_GT(m.bytes, 0);
  EXPECT_FALSE(m.source.empty());
}

}  // namespace
}  // namespace zerod
