// A command line run in the background in its own process group, its output in a file:
// for tests that act on a run while it goes (stall a rank, kill a host) and time its end.
#pragma once

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/run_zerod.h"

namespace zerod::e2e {

class BackgroundCommand {
 public:
  BackgroundCommand(const std::string& cmd, const std::string& log) : log_(log) {
    const std::string line = "exec " + cmd + " > " + log + " 2>&1";
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      execl("/bin/sh", "sh", "-c", line.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~BackgroundCommand() {
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  BackgroundCommand(const BackgroundCommand&) = delete;
  BackgroundCommand& operator=(const BackgroundCommand&) = delete;

  // Waits (up to `seconds`) until the log holds `text`.
  bool WaitFor(const std::string& text, int seconds = 90) const {
    for (int i = 0; i < seconds * 10; ++i) {
      if (ReadWholeFile(log_).find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  // The exit code, or -1 after `seconds`.
  int Wait(int seconds = 90) {
    for (int i = 0; i < seconds * 10; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return -1;
  }
  std::string log() const { return ReadWholeFile(log_); }
  pid_t pid() const { return pid_; }

 private:
  std::string log_;
  pid_t pid_ = -1;
};

// The zerod processes whose environment holds ZEROD_TEST_TAG=`tag` (wherever they were
// started: under mpirun, an orted, or a namespace of the two-host test).
inline std::vector<pid_t> TaggedZerods(const std::string& tag) {
  std::vector<pid_t> pids;
  const std::string want = "ZEROD_TEST_TAG=" + tag;
  DIR* proc = opendir("/proc");
  while (dirent* e = readdir(proc)) {
    const pid_t pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    const std::string dir = "/proc/" + std::string(e->d_name);
    std::ifstream comm(dir + "/comm");
    std::string name;
    std::getline(comm, name);
    if (name != "zerod") continue;
    std::ifstream env(dir + "/environ", std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(env)), {});
    size_t at = 0;
    while (at < text.size()) {
      const size_t end = text.find('\0', at);
      if (text.compare(at, (end == std::string::npos ? text.size() : end) - at, want) == 0) {
        pids.push_back(pid);
        break;
      }
      if (end == std::string::npos) break;
      at = end + 1;
    }
  }
  closedir(proc);
  return pids;
}

// True once none of `pids` is alive (zombies count as gone), waiting up to `seconds`.
inline bool AllGone(const std::vector<pid_t>& pids, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (true) {
    bool any = false;
    for (pid_t p : pids) {
      std::ifstream stat("/proc/" + std::to_string(p) + "/stat");
      std::string text((std::istreambuf_iterator<char>(stat)), {});
      const size_t close = text.rfind(')');
      if (close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z') any = true;
    }
    if (!any) return true;
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace zerod::e2e
