#include "kernels/cpu/matmul.h"

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kernels/cpu/pair_panel_matmul.h"

namespace dsm {
namespace {

struct Case {
  DType dtype;
  size_t n, m, k;
  WeightLayout layout = WeightLayout::kRowMajor;
};

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  const char* layout = c.layout == WeightLayout::kPanels       ? "_panels"
                       : c.layout == WeightLayout::kPairPanels ? "_pairs"
                                                               : "_rows";
  return absl::StrCat(DTypeName(c.dtype), "_n", c.n, "_m", c.m, "_k", c.k, layout);
}

// The matrix as MatMul sees it: the row-major bytes, or their panel repacking.
struct TestMatrix {
  std::vector<uint8_t> bytes;
  WeightMatrix view;
};
TestMatrix Prepare(const std::vector<uint8_t>& row_major, const Case& c) {
  TestMatrix t;
  if (c.layout == WeightLayout::kRowMajor) {
    t.bytes = row_major;
  } else {
    t.bytes.resize(WeightBytes(c.layout, c.dtype, c.m, c.k));
    PackPanels(row_major.data(), c.dtype, c.m, c.k, t.bytes.data(), c.layout);
  }
  t.view = WeightMatrix{t.bytes.data(), c.dtype, c.m, c.k, c.layout};
  return t;
}

class MatMulTest : public ::testing::TestWithParam<Case> {};

std::vector<float> Random(size_t count, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<uint8_t> Encode(const std::vector<float>& values, DType dtype) {
  std::vector<uint8_t> bytes(values.size() * DTypeSize(dtype));
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::kF32) {
      std::memcpy(&bytes[4 * i], &values[i], 4);
    } else {
      uint16_t b = dtype == DType::kBF16 ? FloatToBF16(values[i]) : FloatToF16(values[i]);
      std::memcpy(&bytes[2 * i], &b, 2);
    }
  }
  return bytes;
}

TEST_P(MatMulTest, MatchesFloat64Reference) {
  const Case c = GetParam();
  const std::vector<float> x = Random(c.n * c.k, 1);
  const std::vector<uint8_t> w = Encode(Random(c.m * c.k, 2), c.dtype);
  std::vector<float> y(c.n * c.m, NAN);
  ThreadPool pool(3);
  const TestMatrix matrix = Prepare(w, c);
  MatMul(pool, x.data(), c.n, matrix.view, y.data());
  // The bf16 dot-product mode multiplies the activations rounded to bf16 (nearest even).
  std::vector<float> x_used = x;
  if (c.layout == WeightLayout::kPairPanels) {
    for (float& v : x_used) v = BF16ToFloat(FloatToBF16(v));
  }
  for (size_t t = 0; t < c.n; ++t) {
    for (size_t r = 0; r < c.m; ++r) {
      double ref = 0;
      for (size_t i = 0; i < c.k; ++i)
        ref += double{x_used[t * c.k + i]} * LoadAsFloat(w.data(), c.dtype, r * c.k + i);
      // fp32 accumulation of k products of magnitude <= 1.
      EXPECT_NEAR(y[t * c.m + r], ref, 2e-6 * c.k) << "token " << t << " row " << r;
    }
  }
}

TEST_P(MatMulTest, TokenResultDoesNotDependOnBatch) {
  const Case c = GetParam();
  const std::vector<float> x = Random(c.n * c.k, 3);
  const std::vector<uint8_t> w = Encode(Random(c.m * c.k, 4), c.dtype);
  const TestMatrix matrix = Prepare(w, c);
  const WeightMatrix& wm = matrix.view;
  ThreadPool pool(2);
  std::vector<float> batched(c.n * c.m);
  MatMul(pool, x.data(), c.n, wm, batched.data());
  for (size_t t = 0; t < c.n; ++t) {
    std::vector<float> alone(c.m);
    MatMul(pool, x.data() + t * c.k, 1, wm, alone.data());
    EXPECT_EQ(0, std::memcmp(alone.data(), batched.data() + t * c.m, c.m * sizeof(float)))
        << "token " << t;
  }
}

std::vector<Case> Shapes() {
  std::vector<Case> cases = {Case{DType::kF32, 1, 7, 64}, Case{DType::kF32, 6, 33, 172},
                             Case{DType::kBF16, 9, 40, 128}, Case{DType::kBF16, 4, 17, 86},
                             Case{DType::kF16, 5, 12, 100}, Case{DType::kBF16, 1, 300, 4096},
                             // Panel kernel tiles: 1-2 tokens over 4 panels, 3-4 over 2, 12 + a
                             // remainder over 1, and matrices whose last panel or group is partial.
                             Case{DType::kBF16, 2, 260, 96}, Case{DType::kBF16, 3, 100, 64},
                             Case{DType::kBF16, 29, 70, 33}, Case{DType::kF32, 13, 97, 40},
                             Case{DType::kF16, 16, 64, 48}, Case{DType::kF32, 2, 129, 24},
                             // Two tiles resuming their sums over several chunks of k, written
                             // straight into y except for the padded last panel.
                             Case{DType::kBF16, 16, 97, 1001}};
  const size_t row_major = cases.size();
  for (size_t i = 0; i < row_major; ++i) {
    cases.push_back(cases[i]);
    cases.back().layout = WeightLayout::kPanels;
    if (cases[i].dtype == DType::kBF16) {
      cases.push_back(cases[i]);
      cases.back().layout = WeightLayout::kPairPanels;
    }
  }
  // Pair tiles: 12 + a remainder over one panel, an odd k (its last pair half zero).
  cases.push_back(Case{DType::kBF16, 16, 64, 2048, WeightLayout::kPairPanels});
  cases.push_back(Case{DType::kBF16, 13, 33, 31, WeightLayout::kPairPanels});
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Shapes, MatMulTest, ::testing::ValuesIn(Shapes()), CaseName);

// The panel kernel runs each output as one FMA chain in input order: a float64-free
// sequential reference with fmaf gives the same bits.
void ExpectSequentialFmaChains(const Case& c) {
  const std::vector<float> x = Random(c.n * c.k, 5);
  const std::vector<uint8_t> w = Encode(Random(c.m * c.k, 6), c.dtype);
  const TestMatrix matrix = Prepare(w, c);
  ThreadPool pool(2);
  std::vector<float> y(c.n * c.m);
  MatMul(pool, x.data(), c.n, matrix.view, y.data());
  for (size_t t = 0; t < c.n; ++t) {
    for (size_t r = 0; r < c.m; ++r) {
      float acc = 0.0f;
      for (size_t i = 0; i < c.k; ++i)
        acc = std::fma(x[t * c.k + i], LoadAsFloat(w.data(), c.dtype, r * c.k + i), acc);
      ASSERT_EQ(acc, y[t * c.m + r]) << "token " << t << " row " << r;
    }
  }
}

// Also with two tiles resuming over several chunks of k (their sums kept in y between
// chunks) and a padded last panel.
TEST(PanelMatMulTest, EqualsASequentialFmaChain) {
  for (const Case& c : {Case{DType::kBF16, 7, 45, 77, WeightLayout::kPanels},
                        Case{DType::kBF16, 16, 97, 1001, WeightLayout::kPanels}}) {
    SCOPED_TRACE(CaseName(::testing::TestParamInfo<Case>(c, 0)));
    ExpectSequentialFmaChains(c);
  }
}

// VDPBF16PS against the portable emulation of its documented arithmetic (high pair's
// product first, then the low one's, each rounded): the same bits on this CPU.
TEST(PairPanelMatMulTest, HardwareEqualsTheEmulation) {
  if (!HasBf16DotProducts()) GTEST_SKIP() << "this CPU has no AVX-512 BF16 (VDPBF16PS)";
  for (const Case& c : {Case{DType::kBF16, 1, 300, 2048, WeightLayout::kPairPanels},
                        Case{DType::kBF16, 16, 97, 1001, WeightLayout::kPairPanels}}) {
    const std::vector<float> x = Random(c.n * c.k, 7);
    const TestMatrix matrix = Prepare(Encode(Random(c.m * c.k, 8), c.dtype), c);
    ThreadPool pool(2);
    std::vector<float> hardware(c.n * c.m), emulated(c.n * c.m);
    PairPanelMatMul(pool, x.data(), c.n, matrix.view, hardware.data(), Bf16DotPath::kBest);
    PairPanelMatMul(pool, x.data(), c.n, matrix.view, emulated.data(), Bf16DotPath::kEmulated);
    for (size_t i = 0; i < hardware.size(); ++i) {
      ASSERT_EQ(hardware[i], emulated[i]) << "k " << c.k << " output " << i;
    }
  }
}

TEST(MatMulTest, ReportsSimdTarget) { EXPECT_STRNE(MatMulTargetName(), ""); }

TEST(ThreadPoolTest, CoversEveryIndexOnce) {
  ThreadPool pool(4);
  for (size_t n : {1u, 5u, 100u, 1001u}) {
    std::vector<int> hits(n, 0);
    pool.ParallelFor(n, 3, [&](size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) ++hits[i];
    });
    for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i], 1) << i;
  }
}

}  // namespace
}  // namespace dsm
