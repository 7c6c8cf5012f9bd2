#include "engine/models/model_dir.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
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

namespace {

// Weight files of other formats: transformers' own names for them (pytorch_model.bin
// and its shards, tf_model.h5, flax_model.msgpack) and the suffixes of torch and
// llama.cpp files. Other .bin files are not weights (zerod's own token files are .bin).
bool IsForeignWeightsFile(const std::string& name) {
  if (absl::StartsWith(name, "pytorch_model") && absl::EndsWith(name, ".bin")) return true;
  if (absl::StartsWith(name, "tf_model") && absl::EndsWith(name, ".h5")) return true;
  if (absl::StartsWith(name, "flax_model") && absl::EndsWith(name, ".msgpack")) return true;
  for (const char* suffix : {".pt", ".pth", ".ckpt", ".gguf"}) {
    if (absl::EndsWith(name, suffix)) return true;
  }
  return false;
}

}  // namespace

absl::Status CheckModelWeights(const std::string& dir, bool random_init) {
  if (random_init) return absl::OkStatus();
  const bool safetensors =
      ::access(JoinPath(dir, "model.safetensors").c_str(), F_OK) == 0 ||
      ::access(JoinPath(dir, "model.safetensors.index.json").c_str(), F_OK) == 0;
  if (safetensors) return absl::OkStatus();
  if (::access(JoinPath(dir, "zerod_checkpoint.json").c_str(), F_OK) == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model_dir: ", dir,
        " is a zerod checkpoint, not a model directory: continue it with --resume ", dir,
        " (and --model the model it was trained from), or write it as a model with `zerod "
        "--export-hf OUT --from-checkpoint ",
        dir, "`"));
  }
  std::vector<std::string> foreign;
  for (const std::string& name : ListDirectory(dir).value_or(std::vector<std::string>{})) {
    if (IsForeignWeightsFile(name)) foreign.push_back(name);
  }
  if (foreign.empty()) return absl::OkStatus();  // config only: initialised, and said so
  std::sort(foreign.begin(), foreign.end());
  return absl::InvalidArgumentError(absl::StrCat(
      "model_dir: ", dir, " holds weights zerod does not read (", absl::StrJoin(foreign, ", "),
      "): zerod reads safetensors. Convert them once with transformers: "
      "`AutoModelForCausalLM.from_pretrained(DIR).save_pretrained(OUT)` writes "
      "model.safetensors; or train from scratch with --init random"));
}

}  // namespace zerod::models
