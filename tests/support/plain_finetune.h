// The fine-tuning reference: the same units trained by a plain LibTorch loop on the rows of
// a sample file (data/packer.h, the whole global batch in one forward, each sample attending
// to itself alone: the layout), with transformers' loss: cross_entropy(logits, labels,
// ignore_index=-100, reduction="sum") / the labels of the step (Trainer's
// num_items_in_batch). Steps without a label are skipped, as zerod does.
#pragma once

#include <string>
#include <vector>

#include "engine/api.h"

namespace zerod::testing {

// Losses of the job's steps (fp32, CPU); a skipped step's is 0. The schedule and clipping
// are the DeepSpeed config's as the job resolves them for samples (train/finetune_setup.h).
std::vector<double> PlainFinetuneLosses(const JobSpec& spec);

}  // namespace zerod::testing
