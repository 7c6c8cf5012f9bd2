#include "engine/train/shared_paths.h"

#include <unistd.h>

#include <fstream>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/util/crc32c.h"
#include "engine/util/files.h"
#include "engine/util/proc_stats.h"
#include "engine/util/status_macros.h"

namespace zerod::train {
namespace {

// "4133 bytes, crc 1a2b3c4d" of a file's first `limit` bytes, or why it cannot be read.
std::string FileFingerprint(const std::string& path, size_t limit) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot be read";
  std::vector<char> head(limit);
  in.read(head.data(), static_cast<std::streamsize>(limit));
  const size_t got = static_cast<size_t>(in.gcount());
  in.clear();
  in.seekg(0, std::ios::end);
  return absl::StrFormat("%d bytes, crc %08x", static_cast<int64_t>(in.tellg()),
                         Crc32c(0, head.data(), got));
}

absl::StatusOr<std::string> BroadcastString(comm::Communicator& comm, std::string s) {
  int64_t size = static_cast<int64_t>(s.size());
  RETURN_IF_ERROR(comm.Broadcast(&size, sizeof(size), 0));
  s.resize(static_cast<size_t>(size));
  if (size > 0) RETURN_IF_ERROR(comm.Broadcast(s.data(), s.size(), 0));
  return s;
}

std::string Where(const comm::Communicator& comm) {
  return absl::StrCat("rank ", comm.rank(), " (host ", HostName(), ")");
}

constexpr const char* kShared =
    ": the model, data and checkpoint paths must be one path on a file system every host "
    "shares (the submit directory, or the cluster's shared file system), not node-local "
    "storage";

// An input: rank 0's fingerprint against this rank's.
absl::Status CompareInput(comm::Communicator& comm, const char* field, const std::string& path,
                          const std::string& file, size_t limit) {
  const std::string mine = FileFingerprint(file, limit);
  ASSIGN_OR_RETURN(const std::string rank0, BroadcastString(comm, mine));
  absl::Status local;
  if (mine != rank0) {
    local = absl::FailedPreconditionError(
        absl::StrCat(field, " ", path, ": ", Where(comm), " sees ", file, " as ", mine,
                     ", rank 0 as ", rank0, kShared));
  }
  return comm::AgreeOnStatus(comm, local);
}

// The nearest directory at or above `path` that exists ("" when none does).
std::string ExistingDir(std::string path) {
  while (!path.empty() && !IsDirectory(path)) {
    const size_t slash = path.find_last_of('/');
    if (slash == std::string::npos) return IsDirectory(".") ? "." : "";
    path = slash == 0 ? "/" : path.substr(0, slash);
  }
  return path;
}

// An output: a file rank 0 writes there and every rank reads back.
absl::Status CompareOutput(comm::Communicator& comm, const char* field, const std::string& path) {
  std::string dir = comm.rank() == 0 ? ExistingDir(path) : "";
  std::string token;
  if (comm.rank() == 0 && !dir.empty()) {
    std::random_device random;
    token = absl::StrFormat("%08x%08x-%d", random(), random(), static_cast<int>(getpid()));
    const std::string probe = JoinPath(dir, ".zerod-shared-" + token);
    std::ofstream out(probe);
    out << token;
    out.close();
    // Rank 0 cannot write there (read-only, full): not this check's business; the save
    // says so when it comes.
    if (!out || ReadFileToString(probe) != token) {
      ::unlink(probe.c_str());
      token.clear();
    }
  }
  ASSIGN_OR_RETURN(dir, BroadcastString(comm, dir));
  ASSIGN_OR_RETURN(token, BroadcastString(comm, token));
  if (token.empty()) return absl::OkStatus();  // rank 0 cannot write there: the save says so
  const std::string probe = JoinPath(dir, ".zerod-shared-" + token);
  const std::optional<std::string> seen = ReadFileToString(probe);
  absl::Status local;
  if (!seen.has_value() || *seen != token) {
    local = absl::FailedPreconditionError(absl::StrCat(
        field, " ", path, ": ", Where(comm), " does not see the file rank 0 wrote in ", dir,
        seen.has_value() ? " (another file is there under its name)" : "", kShared));
  }
  absl::Status agreed = comm::AgreeOnStatus(comm, local);
  if (comm.rank() == 0) ::unlink(probe.c_str());
  return agreed;
}

}  // namespace

absl::Status CheckSharedPaths(const JobSpec& spec, comm::Communicator& comm) {
  if (comm.world_size() == 1) return absl::OkStatus();
  if (!spec.model_dir.empty()) {
    RETURN_IF_ERROR(CompareInput(comm, "model", spec.model_dir,
                                 JoinPath(spec.model_dir, "config.json"), size_t{1} << 20));
  }
  if (!spec.data_path.empty()) {
    RETURN_IF_ERROR(CompareInput(comm, "data", spec.data_path, spec.data_path, size_t{1} << 20));
  }
  if (!spec.resume_from.empty()) {
    RETURN_IF_ERROR(CompareOutput(comm, "resume", spec.resume_from));
  }
  if (!spec.save_dir.empty()) RETURN_IF_ERROR(CompareOutput(comm, "save_dir", spec.save_dir));
  if (!spec.export_hf_dir.empty()) {
    RETURN_IF_ERROR(CompareOutput(comm, "export_hf", spec.export_hf_dir));
  }
  return absl::OkStatus();
}

}  // namespace zerod::train
