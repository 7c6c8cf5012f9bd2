// Real daemons for end-to-end tests: `mpirun -np N zerod --listen 127.0.0.1:0 ...` in
// its own process group, its log in a file, the port read back from the log; and
// zeroctl runs against it. Every wait has a limit, so a hang fails the test.
#pragma once

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/e2e/run_zerod.h"

namespace zerod::e2e {

class Daemons {
 public:
  // Starts them and waits (up to 90 s) for rank 0's "coordinator listening on ADDR".
  // Returns nullptr if they did not come up; the log says why.
  static std::unique_ptr<Daemons> Start(int ranks, const std::string& extra_args,
                                        const std::string& log_path,
                                        const std::string& listen = "127.0.0.1:0") {
    std::unique_ptr<Daemons> d(new Daemons());
    d->log_path_ = log_path;
    const std::string cmd = std::string("exec ") + ZEROD_MPIEXEC +
                            " --oversubscribe --allow-run-as-root -np " + std::to_string(ranks) +
                            " " + ZEROD_BIN + " --listen " + listen + " " + extra_args + " > " +
                            log_path + " 2>&1";
    d->pid_ = fork();
    if (d->pid_ == 0) {
      setpgid(0, 0);
      execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    const std::string marker = "coordinator listening on ";
    for (int i = 0; i < 900; ++i) {
      const std::string log = ReadWholeFile(log_path);
      const size_t at = log.find(marker);
      if (at != std::string::npos) {
        const size_t end = log.find_first_of(" \n", at + marker.size());
        d->addr_ = log.substr(at + marker.size(), end - at - marker.size());
        return d;
      }
      int status = 0;
      if (waitpid(d->pid_, &status, WNOHANG) == d->pid_) {
        d->pid_ = -1;
        return nullptr;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return nullptr;
  }

  ~Daemons() {
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  const std::string& addr() const { return addr_; }
  pid_t pid() const { return pid_; }  // mpirun's
  std::string log() const { return ReadWholeFile(log_path_); }
  // True once the daemons' log holds `text`, false if it does not within `timeout_s`.
  bool WaitForLog(const std::string& text, int timeout_s = 60) const {
    for (int i = 0; i < timeout_s * 10; ++i) {
      if (log().find(text) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  // mpirun's exit code once it ends within `timeout_s`, else -1.
  int Wait(int timeout_s) {
    for (int i = 0; i < timeout_s * 10 && pid_ > 0; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return -1;
  }

  // The zerod processes mpirun started (its children named zerod).
  std::vector<pid_t> RankPids() const { return ChildZerods(pid_); }

  // Sends `signal` to every zerod process whose parent is `parent` (mpirun's ranks).
  static void SignalChildren(pid_t parent, int signal) {
    for (pid_t p : ChildZerods(parent)) kill(p, signal);
  }

  static std::vector<pid_t> ChildZerods(pid_t parent) {
    std::vector<pid_t> pids;
    DIR* proc = opendir("/proc");
    while (dirent* e = readdir(proc)) {
      const pid_t pid = std::atoi(e->d_name);
      if (pid <= 0) continue;
      std::ifstream stat("/proc/" + std::string(e->d_name) + "/stat");
      std::string text((std::istreambuf_iterator<char>(stat)), {});
      const size_t close = text.rfind(')');
      if (close == std::string::npos || text.find("(zerod)") == std::string::npos) continue;
      std::istringstream rest(text.substr(close + 2));
      char state;
      pid_t ppid;
      rest >> state >> ppid;
      if (ppid == parent) pids.push_back(pid);
    }
    closedir(proc);
    return pids;
  }

 private:
  Daemons() = default;
  pid_t pid_ = -1;
  std::string addr_;
  std::string log_path_;
};

// User + system CPU seconds a process has used so far.
inline double CpuSeconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15; ++i) {
    rest >> field;
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
}

struct CtlResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// `zeroctl ARGS` with a 180 s limit.
inline CtlResult Zeroctl(const std::string& args) {
  char err_path[] = "/tmp/zeroctl-err-XXXXXX";
  const int fd = mkstemp(err_path);
  close(fd);
  const std::string cmd = std::string("timeout 180 ") + ZEROCTL_BIN + " " + args + " 2>" + err_path;
  CtlResult r;
  FILE* pipe = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  while (fgets(buf.data(), buf.size(), pipe) != nullptr) r.out += buf.data();
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.err = ReadWholeFile(err_path);
  unlink(err_path);
  return r;
}

}  // namespace zerod::e2e
