#include "daemon/stop_advice.h"

#include <unistd.h>

#include <fstream>

#include "absl/strings/str_cat.h"

namespace zerod::daemon {

std::string StopAdvice(const std::string& launcher, const std::string& save_dir, int mpirun_pid) {
  if (launcher != "mpirun" || save_dir.empty()) return "";
  const std::string pid = mpirun_pid > 0 ? absl::StrCat(mpirun_pid) : "<mpirun's pid>";
  return absl::StrCat(
      "zerod: note: Ctrl-C under mpirun stops the ranks without a checkpoint (Open MPI does not "
      "pass SIGINT on); to stop after the current step with a checkpoint in ",
      save_dir, ": kill -USR1 ", pid);
}

int MpirunPid() {
  const pid_t parent = ::getppid();
  std::ifstream comm(absl::StrCat("/proc/", parent, "/comm"));
  std::string name;
  std::getline(comm, name);
  for (const char* launcher : {"mpirun", "mpiexec", "orterun", "prterun"}) {
    if (name == launcher) return static_cast<int>(parent);
  }
  return 0;
}

}  // namespace zerod::daemon
