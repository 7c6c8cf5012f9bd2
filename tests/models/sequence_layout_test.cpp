// SequenceLayout from document lengths: cu_seqlens over the flattened batch, positions
// restarting at each document, the longest document, the errors for rows that do not add
// up, and each token's document.
#include "engine/models/sequence_layout.h"

#include <gtest/gtest.h>

namespace zerod::models {
namespace {

TEST(SequenceLayoutTest, DocumentsGiveCumulativeLengthsAndRestartingPositions) {
  auto layout = LayoutOfDocuments({{2, 3}, {5}}, 5, torch::kCPU);
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_FALSE(layout->empty());
  EXPECT_EQ(layout->cu_seqlens.scalar_type(), torch::kInt32);
  EXPECT_TRUE(torch::equal(layout->cu_seqlens, torch::tensor({0, 2, 5, 10}, torch::kInt32)));
  EXPECT_TRUE(
      torch::equal(layout->positions,
                   torch::tensor({0, 1, 0, 1, 2, 0, 1, 2, 3, 4}, torch::kInt64).view({2, 5})));
  EXPECT_EQ(layout->max_seqlen, 5);
  EXPECT_TRUE(
      torch::equal(DocumentIds(*layout, 2, 5),
                   torch::tensor({0, 0, 1, 1, 1, 2, 2, 2, 2, 2}, torch::kInt64).view({2, 5})));
}

TEST(SequenceLayoutTest, RowsThatDoNotAddUpAreRefusedByRow) {
  auto short_row = LayoutOfDocuments({{2, 3}, {4}}, 5, torch::kCPU);
  ASSERT_FALSE(short_row.ok());
  EXPECT_NE(short_row.status().message().find("row 1"), std::string::npos) << short_row.status();
  EXPECT_FALSE(LayoutOfDocuments({{0, 5}}, 5, torch::kCPU).ok());
}

TEST(SequenceLayoutTest, AnEmptyLayoutIsOneDocumentPerRow) {
  EXPECT_TRUE(SequenceLayout{}.empty());
}

}  // namespace
}  // namespace zerod::models
