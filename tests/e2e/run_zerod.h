// Runs zerod as a user does, `mpirun -np N zerod ARGS`, in a child process with a time
// limit (so a hang fails the test), and captures its output and exit code.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace zerod::e2e {

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line, stdout and stderr together.
inline Result RunCommand(const std::string& cmd) {
  Result r;
  FILE* pipe = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf;
  while (fgets(buf.data(), buf.size(), pipe) != nullptr) r.output += buf.data();
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// `cwd`: the directory zerod runs in (relative paths in its config land there); empty:
// the test's own.
inline Result RunZerod(const std::string& args, int ranks = 2, const std::string& cwd = "") {
  return RunCommand((cwd.empty() ? "" : "cd '" + cwd + "' && ") + "timeout 120 " + ZEROD_MPIEXEC +
                    " --oversubscribe --allow-run-as-root -np " + std::to_string(ranks) + " " +
                    ZEROD_BIN + " " + args + " 2>&1");
}

// The shipped corpus as a byte-level token file at `out`, through zerod's own
// --prepare-data. True on success.
inline bool PrepareByteCorpus(const std::string& out) {
  const std::string cmd = std::string(ZEROD_BIN) + " --prepare-data --bytes --input " +
                          ZEROD_SOURCE_DIR + "/data/corpus/vim_user_manual.txt --output " + out +
                          " > /dev/null";
  return std::system(cmd.c_str()) == 0;
}

// A file's bytes ("" when it cannot be read).
inline std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A scratch directory for one test's files, made empty and removed after it.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag)
      : dir_(std::filesystem::temp_directory_path() /
             ("zerod-" + tag + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  ~ScratchDir() { std::filesystem::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  void Write(const std::string& name, const std::string& text) const {
    std::ofstream(Path(name)) << text;
  }

 private:
  std::filesystem::path dir_;
};

inline int Count(const std::string& haystack, const std::string& needle) {
  int n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + 1))
    ++n;
  return n;
}

}  // namespace zerod::e2e
