// The host-and-device math of the CUDA kernels, checked on the CPU (no GPU needed):
// block-table addressing, RoPE against the CPU backend's table, split ranges and the
// merging of partial softmaxes that split attention relies on.

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "kernels/cpu/ops.h"
#include "kernels/cuda/kernel_math.h"

namespace dsm {
namespace {

using cuda_math::KvSlot;

TEST(CudaKernelMathTest, KvSlotFollowsTheBlockTable) {
  const int32_t table[] = {7, 2, 9};
  EXPECT_EQ(KvSlot(table, 0, 16), 7 * 16);
  EXPECT_EQ(KvSlot(table, 15, 16), 7 * 16 + 15);
  EXPECT_EQ(KvSlot(table, 16, 16), 2 * 16);
  EXPECT_EQ(KvSlot(table, 40, 16), 9 * 16 + 8);
  EXPECT_EQ(KvSlot(table, 2, 1), 9);
}

TEST(CudaKernelMathTest, RopeMatchesTheCpuTable) {
  const int head_dim = 64, positions = 300;
  for (double factor : {1.0, 4.0}) {
    RopeTable cpu(positions, head_dim, 10000.0, factor);
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> dist(-1, 1);
    for (int pos : {0, 1, 17, 299}) {
      std::vector<float> x(head_dim);
      for (float& v : x) v = dist(rng);
      std::vector<float> expected = x;
      cpu.Apply(expected.data(), 1, pos);
      for (int i = 0; i < head_dim / 2; ++i) {
        const double angle = cuda_math::RopeAngle(pos, i, head_dim, 10000.0, factor);
        float a, b;
        cuda_math::RopeRotate(x[i], x[i + head_dim / 2], static_cast<float>(std::cos(angle)),
                              static_cast<float>(std::sin(angle)), &a, &b);
        // Same float cos/sin, same expression: bitwise equal.
        EXPECT_EQ(a, expected[i]) << "pos " << pos << " pair " << i;
        EXPECT_EQ(b, expected[i + head_dim / 2]) << "pos " << pos << " pair " << i;
      }
    }
  }
}

TEST(CudaKernelMathTest, SplitRangesCoverEveryKeyOnce) {
  for (int64_t min_chunk : {1, 128}) {
    for (int64_t length : {1, 2, 15, 16, 17, 1000, 4096}) {
      for (int splits : {1, 2, 3, 7, 16}) {
        std::vector<int> seen(length, 0);
        int64_t previous_end = 0;
        for (int s = 0; s < splits; ++s) {
          int64_t begin, end;
          cuda_math::SplitRange(length, splits, s, &begin, &end, min_chunk);
          if (end > begin && end < length) {
            ASSERT_GE(end - begin, min_chunk);
          }
          ASSERT_LE(begin, end);
          ASSERT_EQ(begin, std::max<int64_t>(std::min(previous_end, length), begin));
          for (int64_t p = begin; p < end; ++p) ++seen[p];
          previous_end = end;
        }
        for (int64_t p = 0; p < length; ++p) {
          ASSERT_EQ(seen[p], 1) << "length " << length << " splits " << splits << " key " << p;
        }
      }
    }
  }
}

// Online softmax over keys, split into parts and merged, equals the direct softmax.
TEST(CudaKernelMathTest, MergedPartialSoftmaxesEqualTheDirectSoftmax) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0, 3);
  const int keys = 37, d = 5;
  std::vector<float> scores(keys), values(keys * d);
  for (float& s : scores) s = dist(rng);
  for (float& v : values) v = dist(rng);
  std::vector<double> direct(d, 0.0);
  double max = -INFINITY, sum = 0;
  for (float s : scores) max = std::max<double>(max, s);
  for (int k = 0; k < keys; ++k) {
    const double w = std::exp(scores[k] - max);
    sum += w;
    for (int i = 0; i < d; ++i) direct[i] += w * values[k * d + i];
  }
  for (double& v : direct) v /= sum;

  for (int parts : {1, 2, 4, 6, 50}) {  // 50 parts: some are empty
    std::vector<float> maxes(parts), sums(parts), accs(parts * d, 0.0f);
    for (int p = 0; p < parts; ++p) {
      int64_t begin, end;
      cuda_math::SplitRange(keys, parts, p, &begin, &end);
      cuda_math::SoftmaxPartial partial;
      for (int64_t k = begin; k < end; ++k) {
        float w;
        const float rescale = cuda_math::SoftmaxAccumulate(&partial, scores[k], &w);
        for (int i = 0; i < d; ++i)
          accs[p * d + i] = accs[p * d + i] * rescale + w * values[k * d + i];
      }
      maxes[p] = partial.max;
      sums[p] = partial.sum;
    }
    for (int i = 0; i < d; ++i) {
      float out;
      cuda_math::MergeSoftmaxPartials(parts, maxes.data(), sums.data(), accs.data(), d, i, &out);
      EXPECT_NEAR(out, direct[i], 1e-5 * (1 + std::abs(direct[i]))) << parts << " parts";
    }
  }
}

// The fused q/k/v GEMV's blocks: every weight row is taken exactly once, as half of a RoPE
// pair within one head, and each pair's part (q, K, V), head and offset agree with the
// row it starts at (GQA and MHA).
TEST(CudaKernelMathTest, QkvPairsTakeEveryRowOnceAsRopePairs) {
  struct Shape {
    int heads, kv_heads, head_dim;
  };
  for (const Shape shape : {Shape{4, 2, 8}, Shape{3, 3, 4}, Shape{32, 32, 128}}) {
    const int d = shape.head_dim, half = d / 2;
    const int stacked = shape.heads + 2 * shape.kv_heads, rows = stacked * d;
    std::vector<int> taken(rows, 0);
    for (int block = 0; block < stacked * half; ++block) {
      const cuda_math::QkvPair pair =
          cuda_math::QkvPairOfBlock(block, shape.heads, shape.kv_heads, d);
      ASSERT_GE(pair.first_row, 0);
      ASSERT_LT(pair.first_row + half, rows);
      ++taken[pair.first_row];
      ++taken[pair.first_row + half];
      const int stacked_head = static_cast<int>(pair.first_row / d);
      EXPECT_EQ(pair.offset, pair.first_row % d);
      EXPECT_LT(pair.offset, half) << "a pair must not straddle two heads";
      const int part_begin[] = {0, shape.heads, shape.heads + shape.kv_heads};
      const int part_heads[] = {shape.heads, shape.kv_heads, shape.kv_heads};
      ASSERT_GE(pair.part, 0);
      ASSERT_LE(pair.part, 2);
      EXPECT_EQ(pair.head, stacked_head - part_begin[pair.part]);
      EXPECT_GE(pair.head, 0);
      EXPECT_LT(pair.head, part_heads[pair.part]);
    }
    for (int row = 0; row < rows; ++row) EXPECT_EQ(taken[row], 1) << "row " << row;
  }
}

TEST(CudaKernelMathTest, SiluMul) {
  EXPECT_FLOAT_EQ(cuda_math::SiluMul(0.0f, 3.0f), 0.0f);
  EXPECT_NEAR(cuda_math::SiluMul(2.0f, 0.5f), 2.0 / (1 + std::exp(-2.0)) * 0.5, 1e-6);
}

}  // namespace
}  // namespace dsm
