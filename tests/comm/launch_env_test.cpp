#include "engine/comm/launch_env.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace zerod::comm {
namespace {

LaunchEnv Read(const std::map<std::string, std::string>& env) {
  return ReadLaunchEnv([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(LaunchEnvTest, OpenMpiVariables) {
  auto e = Read({{"OMPI_COMM_WORLD_RANK", "3"},
                 {"OMPI_COMM_WORLD_SIZE", "4"},
                 {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                 {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"}});
  EXPECT_EQ(e.launcher, "mpirun");
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.world_size, 4);
  EXPECT_EQ(e.local_rank, 1);
}

TEST(LaunchEnvTest, SlurmVariables) {
  auto e = Read({{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"SLURM_LOCALID", "1"}});
  EXPECT_EQ(e.launcher, "srun");
  EXPECT_EQ(e.rank, 1);
  EXPECT_EQ(e.world_size, 2);
  EXPECT_EQ(e.local_rank, 1);
}

TEST(LaunchEnvTest, MpirunInsideASlurmAllocationIsMpirun) {
  auto e = Read({{"SLURM_PROCID", "0"},
                 {"SLURM_NTASKS", "1"},
                 {"OMPI_COMM_WORLD_RANK", "1"},
                 {"OMPI_COMM_WORLD_SIZE", "2"}});
  EXPECT_EQ(e.launcher, "mpirun");
  EXPECT_EQ(e.rank, 1);
}

TEST(LaunchEnvTest, PmiAndSingleton) {
  EXPECT_EQ(Read({{"PMI_RANK", "0"}, {"PMI_SIZE", "2"}}).launcher, "pmi");
  auto none = Read({});
  EXPECT_EQ(none.launcher, "singleton");
  EXPECT_FALSE(none.rank.has_value());
  EXPECT_FALSE(Read({{"OMPI_COMM_WORLD_RANK", "x"}}).rank.has_value());
}

}  // namespace
}  // namespace zerod::comm
