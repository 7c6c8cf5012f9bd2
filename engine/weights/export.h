// A ZeroEngine's weights written out as a Hugging Face model directory's tensors: every
// unit gathered in turn, in compute dtype, appended to the streaming writer of
// checkpoint/hf_export.h. Not the directory's other files (config, tokenizer: the job's
// ExportHf) nor what an export may replace (checkpoint/output_dir.h).
#pragma once

#include <vector>

#include "absl/status/status.h"
#include "engine/checkpoint/hf_export.h"
#include "engine/zero/zero_engine.h"

namespace zerod::weights {

// Names, shapes and compute dtype of every parameter, in export order.
std::vector<models::TensorSpec> ExportPlan(const zero::ZeroEngine& engine);

// Gathers every unit in turn (a collective: all ranks call it) and, on the rank that
// passes a writer, appends each parameter. Errors of the writing rank are returned on
// every rank, after the last gather.
absl::Status Export(zero::ZeroEngine& engine, checkpoint::HfExportWriter* writer);

}  // namespace zerod::weights
