// The vectorised reductions over a vocabulary row against their scalar definitions.

#include "kernels/cpu/softmax.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace dsm {
namespace {

std::vector<float> RandomRow(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> row(n);
  for (float& v : row) v = normal(rng);
  return row;
}

size_t ScalarFirstMax(const std::vector<float>& row) {
  return static_cast<size_t>(std::max_element(row.begin(), row.end()) - row.begin());
}

// The maximum first, last, in the tail after the last full vector, tied within a vector
// and across vectors, in rows shorter than a vector and with equal values everywhere.
TEST(FirstMaxIndexTest, IsStdMaxElementsAnswer) {
  for (size_t n : {1u, 3u, 16u, 17u, 37u, 1000u, 102400u}) {
    std::vector<size_t> places = {0, n - 1, n / 2};
    if (n > 16) places.push_back(n - 2);
    for (size_t place : places) {
      std::vector<float> row = RandomRow(n, static_cast<unsigned>(n + place));
      row[place] = 50.0f;
      EXPECT_EQ(FirstMaxIndex(row.data(), n), place) << "n " << n;
      if (place + 1 < n) {
        row[n - 1] = 50.0f;  // a later tie never wins
        EXPECT_EQ(FirstMaxIndex(row.data(), n), place) << "n " << n;
      }
    }
    const std::vector<float> flat(n, -3.0f);
    EXPECT_EQ(FirstMaxIndex(flat.data(), n), 0u);
    const std::vector<float> row = RandomRow(n, 99);
    EXPECT_EQ(FirstMaxIndex(row.data(), n), ScalarFirstMax(row));
  }
  // -0 and +0 compare equal: the first of them.
  const std::vector<float> zeros = {-1.0f, -0.0f, 0.0f, -2.0f};
  EXPECT_EQ(FirstMaxIndex(zeros.data(), zeros.size()), 1u);
}

TEST(LogSumExpTest, MatchesTheDoubleSum) {
  const std::vector<float> row = RandomRow(1001, 5);
  double sum = 0;
  for (float v : row) sum += std::exp(static_cast<double>(v));
  EXPECT_NEAR(LogSumExp(row.data(), row.size()), std::log(sum), 1e-5);
}

}  // namespace
}  // namespace dsm
