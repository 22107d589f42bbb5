#include "common/dtype.h"

#include <cmath>

#include "gtest/gtest.h"

namespace dsm {
namespace {

TEST(DTypeTest, Bf16RoundsToNearestEven) {
  EXPECT_EQ(FloatToBF16(1.0f), 0x3f80);
  EXPECT_EQ(BF16ToFloat(0x3f80), 1.0f);
  // 1 + 2^-8 lies halfway between two bf16 values: ties go to the even one (1.0).
  EXPECT_EQ(FloatToBF16(1.00390625f), 0x3f80);
  EXPECT_EQ(FloatToBF16(1.01171875f), 0x3f82);  // halfway, rounds up to even
  EXPECT_TRUE(std::isnan(BF16ToFloat(FloatToBF16(NAN))));
}

TEST(DTypeTest, F16RoundTrip) {
  for (float v : {0.0f, 1.0f, -2.5f, 65504.0f, 0.000061035156f}) {
    EXPECT_EQ(F16ToFloat(FloatToF16(v)), v);
  }
}

TEST(DTypeTest, ParsesSafetensorsNames) {
  EXPECT_EQ(*ParseSafetensorsDType("BF16"), DType::kBF16);
  EXPECT_EQ(*ParseSafetensorsDType("F16"), DType::kF16);
  EXPECT_EQ(*ParseSafetensorsDType("F32"), DType::kF32);
  absl::StatusOr<DType> bad = ParseSafetensorsDType("I8");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(bad.status().message().find("unsupported dtype I8"), std::string::npos);
}

}  // namespace
}  // namespace dsm
