#include "coordinator/state_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "absl/strings/str_cat.h"
#include "engine/util/files.h"
#include "engine/util/proc_stats.h"
#include "nlohmann/json.hpp"

namespace zerod::coordinator {
namespace {

std::string UtcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &utc);
  return text;
}

// The whole file behind `fd`, read from its start.
std::string ReadAll(int fd) {
  std::string text;
  char buf[4096];
  for (off_t at = 0;;) {
    const ssize_t n = ::pread(fd, buf, sizeof buf, at);
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
    at += n;
  }
  return text;
}

// The refusal when another process holds `path`, naming it from the file's contents (the
// holder may be between truncating and writing them: then it is unnamed).
absl::Status HeldBy(const std::string& dir, const std::string& path, const std::string& text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  std::string who = absl::StrCat("a process whose lock file ", path, " names no holder yet");
  std::string stop = "stop it";
  if (j.is_object() && j.contains("pid")) {
    const std::string address = j.value("address", "");
    who = absl::StrCat("pid ", j.value("pid", int64_t{0}), " on host ", j.value("host", "?"),
                       ", coordinator at ", address, " (since ", j.value("since", "?"), ")");
    if (!address.empty()) stop = absl::StrCat("stop it (`zeroctl --addr ", address, " shutdown`)");
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "--state-dir ", dir, " is in use by another zerod daemon set: ", who,
      ". Two sets on one state dir would give their jobs the same ids and lose one history; ", stop,
      " or pass another --state-dir"));
}

}  // namespace

std::string StateLockPath(const std::string& dir) { return JoinPath(dir, "zerod.lock"); }

absl::StatusOr<std::unique_ptr<StateDirLock>> StateDirLock::Acquire(const std::string& dir,
                                                                    const std::string& address) {
  if (!IsDirectory(dir)) {
    if (auto s = MakeDirectories(dir); !s.ok()) {
      return absl::PermissionDeniedError(absl::StrCat("--state-dir: ", s.message()));
    }
    ::chmod(dir.c_str(), 0700);  // created here: only the daemons' user reads the journal
  }
  const std::string path = StateLockPath(dir);
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::PermissionDeniedError(absl::StrCat("--state-dir: cannot open ", path, ": ",
                                                    std::strerror(errno),
                                                    "; pass a directory the daemons can write"));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    const std::string text = ReadAll(fd);
    ::close(fd);
    if (error == EWOULDBLOCK) return HeldBy(dir, path, text);
    return absl::UnavailableError(
        absl::StrCat("--state-dir: cannot lock ", path, ": ", std::strerror(error)));
  }
  std::unique_ptr<StateDirLock> lock(
      new StateDirLock(path, fd, StateDirHolder{::getpid(), HostName(), address, UtcNow()}));
  if (auto s = lock->WriteHolder(); !s.ok()) return s;
  return lock;
}

StateDirLock::~StateDirLock() { ::close(fd_); }  // releases the flock

absl::Status StateDirLock::SetAddress(const std::string& address) {
  holder_.address = address;
  return WriteHolder();
}

absl::Status StateDirLock::WriteHolder() {
  const std::string text = nlohmann::json{{"pid", holder_.pid},
                                          {"host", holder_.host},
                                          {"address", holder_.address},
                                          {"since", holder_.since}}
                               .dump() +
                           "\n";
  if (::ftruncate(fd_, 0) != 0 ||
      ::pwrite(fd_, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    return absl::PermissionDeniedError(
        absl::StrCat("--state-dir: cannot write ", path_, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace zerod::coordinator
