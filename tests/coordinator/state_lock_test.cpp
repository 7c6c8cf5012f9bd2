// The state directory's lock (coordinator/state_lock.h): one holder at a time, across
// processes; the refusal names the holder; a holder that dies (or leaves a file behind)
// never blocks the next one.
#include "coordinator/state_lock.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace zerod::coordinator {
namespace {

namespace fs = std::filesystem;

std::string Host() {
  char name[256] = {};
  ::gethostname(name, sizeof(name) - 1);
  return name;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class StateLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("zerod-lock-" + std::to_string(::getpid())) / "state")
               .string();
  }
  void TearDown() override { fs::remove_all(fs::path(dir_).parent_path()); }
  std::string dir_;
};

TEST_F(StateLockTest, ASecondHolderIsRefusedNamingTheFirstsPidHostAndAddress) {
  auto first = StateDirLock::Acquire(dir_, "127.0.0.1:0");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE((*first)->SetAddress("127.0.0.1:43210").ok());
  // flock belongs to the open file: a second open in this very process conflicts too.
  auto second = StateDirLock::Acquire(dir_, "127.0.0.1:7070");
  ASSERT_FALSE(second.ok());
  const std::string message(second.status().message());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(message.find("--state-dir " + dir_ + " is in use by another zerod daemon set"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("pid " + std::to_string(::getpid()) + " on host " + Host()),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("coordinator at 127.0.0.1:43210"), std::string::npos) << message;
  EXPECT_NE(message.find("zeroctl --addr 127.0.0.1:43210 shutdown"), std::string::npos) << message;
  EXPECT_NE(message.find("pass another --state-dir"), std::string::npos) << message;
}

TEST_F(StateLockTest, AnotherProcesssLockIsRefusedAndFreedWhenThatProcessDies) {
  int ready[2], release[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(release), 0);
  const pid_t child = ::fork();
  if (child == 0) {
    auto lock = StateDirLock::Acquire(dir_, "10.0.0.7:7070");
    const char ok = lock.ok() ? '1' : '0';
    (void)!::write(ready[1], &ok, 1);
    char go;
    (void)!::read(release[0], &go, 1);
    ::_exit(0);  // the lock goes with the process, not released by hand
  }
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ASSERT_EQ(ok, '1');
  auto refused = StateDirLock::Acquire(dir_, "127.0.0.1:7070");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("pid " + std::to_string(child) + " on host "),
            std::string::npos)
      << refused.status();
  EXPECT_NE(refused.status().message().find("coordinator at 10.0.0.7:7070"), std::string::npos)
      << refused.status();
  (void)!::write(release[1], "x", 1);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  auto after = StateDirLock::Acquire(dir_, "127.0.0.1:7070");
  EXPECT_TRUE(after.ok()) << after.status();
  EXPECT_NE(Read(StateLockPath(dir_)).find("\"pid\":" + std::to_string(::getpid())),
            std::string::npos)
      << "the new holder rewrote the file: " << Read(StateLockPath(dir_));
}

TEST_F(StateLockTest, TheLockIsFreedWithItsHolderAndALeftoverFileIsTakenOver) {
  { ASSERT_TRUE(StateDirLock::Acquire(dir_, "127.0.0.1:1").ok()); }
  auto again = StateDirLock::Acquire(dir_, "127.0.0.1:2");
  ASSERT_TRUE(again.ok()) << again.status();
  again->reset();
  std::ofstream(StateLockPath(dir_)) << "not json at all";
  auto over_garbage = StateDirLock::Acquire(dir_, "127.0.0.1:3");
  ASSERT_TRUE(over_garbage.ok()) << over_garbage.status();
  EXPECT_NE(Read(StateLockPath(dir_)).find("\"address\":\"127.0.0.1:3\""), std::string::npos)
      << Read(StateLockPath(dir_));
}

TEST_F(StateLockTest, ADirectoryItCreatesIsTheOwnersOnly) {
  ASSERT_TRUE(StateDirLock::Acquire(dir_, "127.0.0.1:0").ok());
  struct stat st {};
  ASSERT_EQ(::stat(dir_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  EXPECT_TRUE(fs::exists(dir_ + "/zerod.lock"));
}

TEST_F(StateLockTest, APathThatIsAFileIsRefusedNamingIt) {
  fs::create_directories(fs::path(dir_).parent_path());
  std::ofstream(dir_) << "a file";
  auto lock = StateDirLock::Acquire(dir_, "127.0.0.1:0");
  ASSERT_FALSE(lock.ok());
  EXPECT_NE(lock.status().message().find(dir_), std::string::npos) << lock.status();
}

}  // namespace
}  // namespace zerod::coordinator
