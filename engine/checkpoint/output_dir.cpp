#include "engine/checkpoint/output_dir.h"

#include <sys/stat.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/checkpoint/checkpoint_dir.h"
#include "engine/util/files.h"

namespace zerod::checkpoint {
namespace {

constexpr size_t kNamedEntries = 5;  // how many foreign entries an error lists

// `text` is `prefix`, `digits` decimal digits, then `suffix`.
bool Matches(std::string_view text, std::string_view prefix, size_t digits,
             std::string_view suffix) {
  if (text.size() != prefix.size() + digits + suffix.size()) return false;
  if (!text.starts_with(prefix) || !text.ends_with(suffix)) return false;
  for (size_t i = prefix.size(); i < prefix.size() + digits; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
  }
  return true;
}

// rank_00000_of_00002.safetensors (RankStateFile).
bool IsRankFile(std::string_view name) {
  if (name.size() != 31) return false;
  return Matches(name.substr(0, 10), "rank_", 5, "") &&
         Matches(name.substr(10), "_of_", 5, ".safetensors");
}

bool IsCompanionFile(std::string_view name) {
  for (const std::string& companion : CompanionFiles()) {
    if (name == companion) return true;
  }
  return false;
}

// What an export writes (hf_export.h), finished or still .partial.
bool IsExportFile(std::string_view name) {
  if (name.ends_with(".partial")) name.remove_suffix(8);
  return name == "config.json" || IsCompanionFile(name) || IsExportWeightsFile(name);
}

// A periodic checkpoint's directory, or one a save keeps beside it while swapping.
bool IsPeriodicName(std::string name) {
  for (std::string_view suffix : {".partial", ".old"}) {
    if (std::string_view(name).ends_with(suffix)) name.resize(name.size() - suffix.size());
  }
  return PeriodicStep(name).has_value();
}

enum class Entry { kMissing, kFile, kDirectory, kOther };

// What `path` itself is; a symbolic link is kOther (a save would replace the link, and a
// removal would not follow it: neither is what its owner meant).
Entry Kind(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return Entry::kMissing;
  if (S_ISREG(st.st_mode)) return Entry::kFile;
  if (S_ISDIR(st.st_mode)) return Entry::kDirectory;
  return Entry::kOther;
}

// Appends to `foreign` the entries under `dir` that a `kind` output does not hold, named
// from `shown` (the path the user gave). `nested`: inside a periodic checkpoint, which
// holds no periodic checkpoints of its own.
void FindForeign(const std::string& dir, const std::string& shown, OutputKind kind, bool nested,
                 std::vector<std::string>& foreign) {
  auto names = ListDirectory(dir);
  if (!names.ok()) {
    foreign.push_back(absl::StrCat(shown, " (cannot be listed)"));
    return;
  }
  for (const std::string& name : *names) {
    const std::string path = JoinPath(dir, name);
    const Entry entry = Kind(path);
    const std::string named = shown.empty() ? name : JoinPath(shown, name);
    // The shared-path check's probe (train/shared_paths.h), left by a rank that died in it.
    if (entry == Entry::kFile && name.rfind(".zerod-shared-", 0) == 0) continue;
    if (kind == OutputKind::kHfExport) {
      if (entry == Entry::kFile && IsExportFile(name)) continue;
    } else if (entry == Entry::kFile && (name == kMetaFileName || name == "config.json" ||
                                         IsRankFile(name) || IsCompanionFile(name))) {
      continue;
    } else if (entry == Entry::kDirectory && !nested && IsPeriodicName(name)) {
      FindForeign(path, named, kind, /*nested=*/true, foreign);
      continue;
    }
    foreign.push_back(entry == Entry::kDirectory ? named + "/" : named);
  }
}

}  // namespace

const std::vector<std::string>& CompanionFiles() {
  static const std::vector<std::string> kFiles = {
      "tokenizer.json",      "tokenizer_config.json", "special_tokens_map.json",
      "chat_template.jinja", "chat_template.json",    "generation_config.json",
      "added_tokens.json",   "tokenizer.model",       "vocab.json",
      "merges.txt",
  };
  return kFiles;
}

bool IsExportWeightsFile(std::string_view name) {
  return name == "model.safetensors" || name == "model.safetensors.index.json" ||
         (name.size() == 32 && Matches(name.substr(0, 11), "model-", 5, "") &&
          Matches(name.substr(11), "-of-", 5, ".safetensors"));
}

absl::Status CheckReplaceable(const std::string& dir, OutputKind kind) {
  std::vector<std::string> targets = {dir};
  if (kind == OutputKind::kCheckpoint) {
    targets.push_back(StagingDir(dir));
    targets.push_back(PreviousDir(dir));
  }
  for (const std::string& target : targets) {
    const Entry entry = Kind(target);
    if (entry == Entry::kMissing) continue;
    // The directory a user named may be a link to where the space is; the ones zerod
    // makes beside it never are.
    if (entry != Entry::kDirectory && !(target == dir && IsDirectory(dir))) {
      return absl::FailedPreconditionError(
          absl::StrCat(target, " exists and is not a directory zerod wrote: choose another ",
                       kind == OutputKind::kCheckpoint ? "checkpoint" : "export",
                       " directory, or move it away"));
    }
    std::vector<std::string> foreign;
    FindForeign(target, "", kind, /*nested=*/false, foreign);
    if (foreign.empty()) continue;
    const size_t more = foreign.size() > kNamedEntries ? foreign.size() - kNamedEntries : 0;
    foreign.resize(foreign.size() - more);
    return absl::FailedPreconditionError(absl::StrCat(
        target, " holds ", absl::StrJoin(foreign, ", "),
        more > 0 ? absl::StrCat(" and ", more, " more") : "", ", which zerod did not write there; ",
        kind == OutputKind::kCheckpoint
            ? "a checkpoint save replaces the whole directory, so it saves only into a new or "
              "empty directory or over an earlier zerod checkpoint"
            : "an export overwrites its files, so it writes only into a new or empty directory "
              "or over an earlier export",
        ": choose another directory, or move those away"));
  }
  return absl::OkStatus();
}

std::optional<std::string> NewestCheckpoint(const std::string& dir) {
  std::optional<std::string> newest;
  int64_t newest_step = -1;
  auto consider = [&](const std::string& candidate) {
    auto meta = ReadMeta(candidate);
    if (meta.ok() && meta->step > newest_step) {
      newest = candidate;
      newest_step = meta->step;
    }
  };
  consider(dir);
  for (const std::string& periodic : PeriodicCheckpointDirs(dir)) consider(periodic);
  return newest;
}

}  // namespace zerod::checkpoint
