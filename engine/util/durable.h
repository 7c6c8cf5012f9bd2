// Making writes durable before a rename publishes them (issue 27): a checkpoint is swapped
// in by renaming its staging directory, and a rename can reach the disk before the data of
// the files it names. fsync each file, then the directory that holds them, then (after the
// rename) the parent, so a crash or a power cut leaves the old checkpoint or the new one
// whole. On shared file systems (NFS, Lustre) fsync also pushes the data to the server, so
// another host reading it sees it.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace zerod {

// fsync of a file or a directory (opened read-only). Internal error naming the path.
absl::Status SyncPath(const std::string& path);

// The directory holding `path` ("." for a bare name).
std::string ParentDir(const std::string& path);

}  // namespace zerod
