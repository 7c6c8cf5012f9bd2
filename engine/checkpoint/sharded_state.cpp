#include "engine/checkpoint/sharded_state.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/plan/partition.h"
#include "engine/util/check.h"
#include "engine/util/status_macros.h"

namespace zerod::checkpoint {

std::string ShardedState::TensorName(size_t group, const char* what) {
  return absl::StrCat("group.", group, ".", what);
}

absl::StatusOr<ShardedState> ShardedState::Open(const std::vector<std::string>& paths,
                                                size_t groups, bool verify) {
  if (paths.empty()) return absl::InvalidArgumentError("a checkpoint needs at least one rank file");
  ShardedState state;
  for (const std::string& path : paths) {
    ASSIGN_OR_RETURN(auto file, models::SafetensorsFile::Open(path));
    if (verify) RETURN_IF_ERROR(file->VerifyChecksum());
    const auto& meta = file->metadata();
    auto n = meta.find("groups");
    auto step = meta.find("adam_step");
    int64_t adam_step = 0;
    if (n == meta.end() || step == meta.end() || n->second != std::to_string(groups) ||
        !absl::SimpleAtoi(step->second, &adam_step)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, " does not hold this model's optimizer state (", groups,
          " units expected): resume with the model and config the checkpoint was written with"));
    }
    // Every rank saved the same step: files that disagree come from different saves.
    if (!state.files_.empty() && adam_step != state.adam_step_) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, " was saved at optimizer step ", adam_step, " and ", paths.front(), " at step ",
          state.adam_step_, ": the rank files come from different saves"));
    }
    state.adam_step_ = adam_step;
    state.files_.push_back(std::move(file));
  }
  return state;
}

absl::Status ShardedState::Read(size_t group, const char* what, int64_t numel, int64_t begin,
                                int64_t end, float* out) const {
  ASSIGN_OR_RETURN(const plan::Partition old,
                   plan::MakePartition(numel, old_world_size(), plan::kShardAlign));
  ZEROD_CHECK(0 <= begin && begin <= end);
  std::fill(out, out + (end - begin), 0.0f);
  for (int k = 0; k < old_world_size(); ++k) {
    const models::SafetensorsFile& file = *files_[k];
    const models::TensorInfo* info = file.Find(TensorName(group, what));
    if (info == nullptr || info->dtype != DType::kFloat32 || info->numel() != old.shard_numel) {
      return absl::InvalidArgumentError(absl::StrCat(file.path(), ": ", TensorName(group, what),
                                                     " is missing or not float32[", old.shard_numel,
                                                     "] (written for another model?)"));
    }
    // Old rank k's real elements, in flat indices, and the part of [begin, end) they hold.
    const int64_t k_begin = old.ShardBegin(k);
    const int64_t lo = std::max(begin, k_begin);
    const int64_t hi = std::min(end, k_begin + old.ShardValidNumel(k));
    if (lo >= hi) continue;
    const auto* src = reinterpret_cast<const float*>(file.Data(*info)) + (lo - k_begin);
    const size_t bytes = static_cast<size_t>(hi - lo) * sizeof(float);
    std::memcpy(out + (lo - begin), src, bytes);
    file.DropPages(reinterpret_cast<const uint8_t*>(src), bytes);
  }
  return absl::OkStatus();
}

}  // namespace zerod::checkpoint
