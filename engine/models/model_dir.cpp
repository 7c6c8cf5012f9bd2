#include "engine/models/model_dir.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/util/files.h"

namespace zerod::models {
namespace {

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

std::string HubCache() {
  if (std::string c = Env("HF_HUB_CACHE"); !c.empty()) return c;
  if (std::string h = Env("HF_HOME"); !h.empty()) return JoinPath(h, "hub");
  return JoinPath(JoinPath(Env("HOME"), ".cache/huggingface"), "hub");
}

// A Hub id is ORG/NAME (or NAME), never an absolute or dotted path.
bool LooksLikeHubId(const std::string& s) {
  if (s.empty() || s[0] == '/' || s[0] == '.' || s.back() == '/') return false;
  return std::count(s.begin(), s.end(), '/') <= 1;
}

}  // namespace

absl::StatusOr<std::string> ResolveModelDir(const std::string& name_or_dir) {
  if (IsDirectory(name_or_dir)) return name_or_dir;
  if (!LooksLikeHubId(name_or_dir)) {
    return absl::NotFoundError(absl::StrCat("model directory ", name_or_dir, " does not exist"));
  }
  const std::string cache = HubCache();
  const std::string repo =
      JoinPath(cache, "models--" + absl::StrReplaceAll(name_or_dir, {{"/", "--"}}));
  std::ifstream ref(JoinPath(repo, "refs/main"));
  std::string commit;
  std::getline(ref, commit);
  commit = std::string(absl::StripAsciiWhitespace(commit));
  const std::string snapshot = JoinPath(JoinPath(repo, "snapshots"), commit);
  if (!commit.empty() && IsDirectory(snapshot)) return snapshot;
  return absl::NotFoundError(absl::StrCat(
      "model ", name_or_dir, " is neither a directory nor in the Hugging Face cache (", repo,
      "/refs/main): zerod does not download; fetch it first, e.g. `huggingface-cli download ",
      name_or_dir, "`, or pass the model's directory"));
}

}  // namespace zerod::models
