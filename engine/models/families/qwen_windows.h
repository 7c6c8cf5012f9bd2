// Qwen2's and Qwen3's sliding windows, as their config classes derive them: with
// use_sliding_window, the layers from max_window_layers on attend within sliding_window
// (or as layer_types says); without it, no layer does, whatever layer_types says.
#pragma once

#include "engine/models/family.h"
#include "engine/util/status_macros.h"

namespace zerod::models::internal {

inline absl::Status ReadQwenWindows(FamilyReader& r, DecoderConfig& c) {
  ASSIGN_OR_RETURN(bool use_window, r.keys().Bool("use_sliding_window", false));
  ASSIGN_OR_RETURN(c.sliding_window, r.Window(4096));
  const bool window = use_window && c.sliding_window > 0;
  ASSIGN_OR_RETURN(int64_t max_window_layers, r.keys().Int("max_window_layers", 28, 0));
  RETURN_IF_ERROR(r.LayerTypes(c, [&](int64_t i) { return window && i >= max_window_layers; }));
  if (!window) c.sliding_layers.assign(c.num_hidden_layers, false);
  return absl::OkStatus();
}

}  // namespace zerod::models::internal
