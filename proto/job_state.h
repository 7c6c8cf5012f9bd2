// Which job states are ends: one answer for the scheduler, the journal and zeroctl.
#pragma once

#include "zerod.pb.h"

namespace zerod::v1 {

// A job in one of these states runs no more steps; watchers stop following it and
// `zeroctl submit --wait` returns. A SAVE_FAILED job may still be loaded on the ranks (its
// trained state kept for a save elsewhere): ended is not the same as unloaded.
inline bool HasEnded(JobState state) {
  return state == SUCCEEDED || state == FAILED || state == CANCELLED || state == PREEMPTED ||
         state == INTERRUPTED || state == SAVE_FAILED;
}

}  // namespace zerod::v1
