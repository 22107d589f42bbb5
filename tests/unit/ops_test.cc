#include "kernels/cpu/ops.h"

#include <cmath>
#include <vector>

#include "gtest/gtest.h"

namespace dsm {
namespace {

TEST(RmsNormTest, NormalisesAndScales) {
  const std::vector<float> x = {1, 2, 3, 4, -1, 0, 0, 1};
  const std::vector<float> w = {1, 0.5, 2, 1};
  std::vector<float> out(8);
  RmsNorm(x.data(), w.data(), 2, 4, 1e-6f, out.data());
  const float rms0 = std::sqrt((1 + 4 + 9 + 16) / 4.0f + 1e-6f);
  EXPECT_NEAR(out[1], 2 / rms0 * 0.5f, 1e-6);
  EXPECT_NEAR(out[2], 3 / rms0 * 2.0f, 1e-6);
  const float rms1 = std::sqrt(2 / 4.0f + 1e-6f);
  EXPECT_NEAR(out[4], -1 / rms1, 1e-6);
}

TEST(SiluMulTest, GateTimesUp) {
  const std::vector<float> gate_up = {0.0f, 2.0f, 3.0f, 4.0f};  // width 2: gate {0,2}, up {3,4}
  std::vector<float> out(2);
  SiluMul(gate_up.data(), 1, 2, out.data());
  EXPECT_FLOAT_EQ(out[0], 0.0f);
  EXPECT_NEAR(out[1], 2.0 / (1.0 + std::exp(-2.0)) * 4.0, 1e-5);
}

// Against the libm formula over the whole range (a few ULP: Highway's exp is within 1
// ULP, then one division and one product), including gates whose exp(-gate) overflows.
TEST(SiluMulTest, MatchesLibmOverTheRangeTailIncluded) {
  const size_t width = 37;  // two full 16-lane vectors and a tail of 5
  std::vector<float> gate_up(2 * width * 3);
  for (size_t i = 0; i < gate_up.size(); ++i) {
    gate_up[i] = static_cast<float>(static_cast<double>(i % 101) - 50.0) * 0.37f;
  }
  gate_up[0] = -200.0f;  // exp(200) overflows: silu is -0 (libm) or below 1e-36 in magnitude
  gate_up[1] = 120.0f;
  std::vector<float> out(width * 3);
  SiluMul(gate_up.data(), 3, width, out.data());
  for (size_t t = 0; t < 3; ++t) {
    for (size_t i = 0; i < width; ++i) {
      const double g = gate_up[t * 2 * width + i], up = gate_up[t * 2 * width + width + i];
      const double expected = g / (1.0 + std::exp(-g)) * up;
      EXPECT_NEAR(out[t * width + i], expected, 4e-7 * std::abs(expected) + 1e-30)
          << "row " << t << " column " << i << " gate " << g;
    }
  }
}

// A value never depends on where it sits: the tail goes through the same code as the rest.
TEST(SiluMulTest, SameInputSameBitsAtEveryColumn) {
  const size_t width = 21;
  std::vector<float> gate_up(2 * width);
  for (size_t i = 0; i < width; ++i) {
    gate_up[i] = -1.2345f;
    gate_up[width + i] = 0.789f;
  }
  std::vector<float> out(width);
  SiluMul(gate_up.data(), 1, width, out.data());
  for (size_t i = 1; i < width; ++i) EXPECT_EQ(out[i], out[0]) << "column " << i;
}

TEST(RopeTest, RotateHalfConvention) {
  const size_t d = 8;
  RopeTable rope(16, d, 10000.0, 1.0);
  std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8};
  const std::vector<float> orig = x;
  rope.Apply(x.data(), 1, 5);
  for (size_t i = 0; i < d / 2; ++i) {
    const double angle = 5.0 * std::pow(10000.0, -2.0 * i / d);
    EXPECT_NEAR(x[i], orig[i] * std::cos(angle) - orig[i + 4] * std::sin(angle), 1e-5);
    EXPECT_NEAR(x[i + 4], orig[i + 4] * std::cos(angle) + orig[i] * std::sin(angle), 1e-5);
  }
}

TEST(RopeTest, PositionZeroIsIdentityAndLinearScalingDividesPositions) {
  RopeTable plain(32, 4, 10000.0, 1.0);
  RopeTable scaled(32, 4, 10000.0, 2.0);
  std::vector<float> a = {1, 2, 3, 4}, b = a, c = a;
  plain.Apply(a.data(), 1, 0);
  EXPECT_EQ(a, (std::vector<float>{1, 2, 3, 4}));
  plain.Apply(b.data(), 1, 3);
  scaled.Apply(c.data(), 1, 6);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(b[i], c[i], 1e-6);
}

}  // namespace
}  // namespace dsm
