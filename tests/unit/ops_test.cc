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
