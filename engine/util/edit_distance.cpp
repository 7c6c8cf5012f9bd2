#include "engine/util/edit_distance.h"

#include <algorithm>
#include <cctype>
#include <vector>

namespace zerod {

// Optimal string alignment: Levenshtein with an adjacent transposition counted as one
// edit ("ratoi" is one edit from "ratio"). Keys are short, so a full table is fine.
size_t EditDistance(const std::string& a, const std::string& b) {
  auto same = [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) ==
           std::tolower(static_cast<unsigned char>(y));
  };
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min(
          {d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (same(a[i - 1], b[j - 1]) ? 0 : 1)});
      if (i > 1 && j > 1 && same(a[i - 1], b[j - 2]) && same(a[i - 2], b[j - 1]))
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

bool NearMiss(const std::string& unknown, const std::string& known) {
  const size_t allowed = std::min(unknown.size(), known.size()) >= 8 ? 2 : 1;
  return EditDistance(unknown, known) <= allowed;
}

}  // namespace zerod
