// DeepSpeed's ZeRO stage-3 defaults for how many parameters are gathered at once, in
// elements, written once: the config's fields (ds_config.h), the plan's request
// (plan/plan.h) and the engine's options (zero/zero_engine.h) all start from these.
#pragma once

#include <cstdint>

namespace zerod::config {

// "stage3_prefetch_bucket_size": units fetched ahead of the one running, at most this many.
inline constexpr int64_t kPrefetchBucketNumel = 50'000'000;
// "stage3_param_persistence_threshold": units this small stay gathered from forward to
// backward.
inline constexpr int64_t kParamPersistenceThresholdNumel = 100'000;
// "stage3_max_live_parameters": gathered parameters alive at once never exceed this.
inline constexpr int64_t kMaxLiveParametersNumel = 1'000'000'000;

}  // namespace zerod::config
