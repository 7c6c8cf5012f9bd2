// Building a SequenceLayout from document lengths, and the per-token document ids the
// attention masks compare.
#include "engine/models/sequence_layout.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace zerod::models {

absl::StatusOr<SequenceLayout> LayoutOfDocuments(const std::vector<std::vector<int64_t>>& documents,
                                                 int64_t T, torch::Device device) {
  std::vector<int32_t> cu = {0};
  std::vector<int64_t> positions;
  positions.reserve(documents.size() * static_cast<size_t>(T));
  int64_t longest = 0;
  for (size_t b = 0; b < documents.size(); ++b) {
    int64_t sum = 0;
    for (int64_t n : documents[b]) {
      if (n <= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("sequence_layout.cpp: row ", b, " has a document of ", n,
                         " tokens; every document (padding included) must have at least one"));
      }
      sum += n;
      longest = std::max(longest, n);
      for (int64_t p = 0; p < n; ++p) positions.push_back(p);
      cu.push_back(static_cast<int32_t>(cu.back() + n));
    }
    if (sum != T) {
      return absl::InvalidArgumentError(
          absl::StrCat("sequence_layout.cpp: row ", b, "'s documents sum to ", sum,
                       " tokens, not the row's ", T, "; count padding as a document of its own"));
    }
  }
  SequenceLayout layout;
  const int64_t B = static_cast<int64_t>(documents.size());
  layout.positions = torch::tensor(positions, torch::kInt64).view({B, T}).to(device);
  layout.cu_seqlens = torch::tensor(cu, torch::kInt32).to(device);
  layout.max_seqlen = longest;
  return layout;
}

absl::StatusOr<SequenceLayout> LayoutFor(const SequenceLayout& layout, int64_t B, int64_t T,
                                         torch::Device device) {
  SequenceLayout on = layout;
  if (on.positions.defined()) {
    if (on.positions.scalar_type() != torch::kInt64 || on.positions.dim() != 2 ||
        on.positions.size(0) != B || on.positions.size(1) != T) {
      return absl::InvalidArgumentError(
          absl::StrCat("sequence_layout.cpp: layout.positions must be (B, T) = (", B, ", ", T,
                       ") int64, not ", c10::toString(on.positions.scalar_type()), " of shape (",
                       absl::StrJoin(on.positions.sizes().vec(), ", "), ")"));
    }
    on.positions = on.positions.to(device);
  }
  if (on.empty()) return on;
  if (on.cu_seqlens.scalar_type() != torch::kInt32 || on.cu_seqlens.dim() != 1 ||
      on.cu_seqlens.numel() < 2) {
    return absl::InvalidArgumentError(
        "sequence_layout.cpp: layout.cu_seqlens must be 1-D int32 with at least 2 entries "
        "(0, then each document's end)");
  }
  const torch::Tensor ends =
      torch::stack({on.cu_seqlens[0], on.cu_seqlens[-1]}).to(torch::kCPU, torch::kInt64);
  if (ends[0].item<int64_t>() != 0 || ends[1].item<int64_t>() != B * T) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sequence_layout.cpp: layout.cu_seqlens runs from ", ends[0].item<int64_t>(), " to ",
        ends[1].item<int64_t>(), "; it must run from 0 to B * T = ", B, " * ", T, " = ", B * T));
  }
  if (on.max_seqlen <= 0 || on.max_seqlen > T) {
    return absl::InvalidArgumentError(
        absl::StrCat("sequence_layout.cpp: layout.max_seqlen is ", on.max_seqlen,
                     "; set it to the longest document's length, at most T = ", T));
  }
  on.cu_seqlens = on.cu_seqlens.to(device);
  return on;
}

torch::Tensor DocumentIds(const SequenceLayout& layout, int64_t B, int64_t T) {
  const torch::Tensor cu = layout.cu_seqlens.to(torch::kInt64);
  const torch::Tensor flat = torch::arange(B * T, cu.options());
  // Document d holds the flat indices [cu[d], cu[d + 1]): the count of starts at or before i.
  return (torch::searchsorted(cu, flat, /*out_int32=*/false, /*right=*/true) - 1).view({B, T});
}

}  // namespace zerod::models
