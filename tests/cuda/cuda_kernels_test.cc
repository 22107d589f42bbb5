// Every CUDA kernel against the CPU backend on random inputs, in both precisions.
// fp32 kernels agree with the CPU to float rounding (1e-5 relative). bf16 kernels read
// and write bf16 (8 significant bits: a relative rounding step of 2^-8 = 0.4%), so they
// are compared with the CPU result of the same bf16-rounded inputs within 2%, a few
// rounding steps for the reductions.

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "common/dtype.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/ops.h"
#include "kernels/cpu/thread_pool.h"
#include "kernels/cuda/cublaslt_gemm.h"
#include "kernels/cuda/gemv.h"
#include "kernels/cuda/kernel_math.h"
#include "kernels/cuda/llama_kernels.h"
#include "kernels/cuda/logits_summary.h"
#include "tests/cuda/cuda_test_env.h"
#include "worker/logits_summary.h"

namespace dsm {
namespace {

std::vector<float> Random(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

// Rounds to bf16 and back, as a bf16 buffer holds the values.
std::vector<float> RoundBf16(std::vector<float> v) {
  for (float& x : v) x = BF16ToFloat(FloatToBF16(x));
  return v;
}

// cos/sin tables [position, head_dim / 2] of the HF RoPE angles (theta 10000), as the
// executor uploads them.
struct RopeTables {
  RopeTables(int positions, int head_dim) {
    const int half = head_dim / 2;
    cos.resize(positions * half);
    sin.resize(positions * half);
    for (int p = 0; p < positions; ++p) {
      for (int i = 0; i < half; ++i) {
        const double a = cuda_math::RopeAngle(p, i, head_dim, 10000.0, 1.0);
        cos[p * half + i] = static_cast<float>(std::cos(a));
        sin[p * half + i] = static_cast<float>(std::sin(a));
      }
    }
  }
  std::vector<float> cos, sin;
};

// A device copy of host floats as T, and back.
template <typename T>
class Device {
 public:
  explicit Device(size_t n) : n_(n) {
    EXPECT_EQ(cudaMalloc(&ptr_, std::max<size_t>(1, n) * sizeof(T)), cudaSuccess);
  }
  explicit Device(const std::vector<float>& host) : Device(host.size()) { Upload(host); }
  ~Device() { cudaFree(ptr_); }
  void Upload(const std::vector<float>& host) {
    std::vector<T> tmp(host.size());
    for (size_t i = 0; i < host.size(); ++i) tmp[i] = Convert(host[i]);
    EXPECT_EQ(cudaMemcpy(ptr_, tmp.data(), tmp.size() * sizeof(T), cudaMemcpyHostToDevice),
              cudaSuccess);
  }
  std::vector<float> Download() const {
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    std::vector<T> tmp(n_);
    EXPECT_EQ(cudaMemcpy(tmp.data(), ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost), cudaSuccess);
    std::vector<float> out(n_);
    for (size_t i = 0; i < n_; ++i) out[i] = Back(tmp[i]);
    return out;
  }
  T* get() const { return static_cast<T*>(ptr_); }

 private:
  static T Convert(float v) {
    if constexpr (std::is_same_v<T, float>) {
      return v;
    } else {
      return __float2bfloat16_rn(v);
    }
  }
  static float Back(T v) {
    if constexpr (std::is_same_v<T, float>) {
      return v;
    } else {
      return __bfloat162float(v);
    }
  }
  void* ptr_ = nullptr;
  size_t n_;
};

template <typename I>
I* DeviceInts(const std::vector<I>& host) {
  void* p = nullptr;
  EXPECT_EQ(cudaMalloc(&p, std::max<size_t>(1, host.size()) * sizeof(I)), cudaSuccess);
  EXPECT_EQ(cudaMemcpy(p, host.data(), host.size() * sizeof(I), cudaMemcpyHostToDevice),
            cudaSuccess);
  return static_cast<I*>(p);
}

template <typename T>
constexpr bool kBf16 = !std::is_same_v<T, float>;

template <typename T>
void ExpectClose(const std::vector<float>& got, const std::vector<float>& want,
                 const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  const double rel = kBf16<T> ? 2e-2 : 1e-5;
  double scale = 0;
  for (float w : want) scale = std::max<double>(scale, std::abs(w));
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double tol = rel * (std::abs(want[i]) + 0.05 * scale) + 1e-6;
    if (std::abs(got[i] - want[i]) > tol && bad++ < 5) {
      ADD_FAILURE() << what << "[" << i << "]: got " << got[i] << ", want " << want[i];
    }
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << got.size() << " elements off";
}

template <typename T>
class CudaKernelsTest : public ::testing::Test {
 protected:
  void SetUp() override { DSM_REQUIRE_CUDA_DEVICES(1); }
  // Inputs as the kernel of this precision sees them.
  std::vector<float> In(std::vector<float> v) { return kBf16<T> ? RoundBf16(std::move(v)) : v; }
  ThreadPool pool_{2};
};

using Precisions = ::testing::Types<float, __nv_bfloat16>;
class PrecisionNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return kBf16<T> ? "bf16" : "fp32";
  }
};
TYPED_TEST_SUITE(CudaKernelsTest, Precisions, PrecisionNames);

TYPED_TEST(CudaKernelsTest, AddRmsNorm) {
  using T = TypeParam;
  for (int dim : {64, 4096}) {
    const int n = 5;
    // The residual stream is f32 in both precisions; the addend and output are T.
    std::vector<float> x = Random(n * dim, 1, 2.0f), add = this->In(Random(n * dim, 2));
    std::vector<float> weight = Random(dim, 3);
    Device<float> residual(x), w(weight);
    Device<T> addend(add), out(n * dim);
    cuda::AddRmsNorm<T>(residual.get(), addend.get(), /*accumulate=*/true, w.get(), n, dim, 1e-6f,
                        out.get(), nullptr);
    std::vector<float> sum = x;
    AddInPlace(sum.data(), add.data(), sum.size());
    std::vector<float> expected(n * dim);
    RmsNorm(sum.data(), weight.data(), n, dim, 1e-6f, expected.data());
    ExpectClose<float>(residual.Download(), sum, "residual");
    ExpectClose<T>(out.Download(), expected, "normed");
    // Without an addend: a plain RMSNorm, residual untouched.
    cuda::AddRmsNorm<T>(residual.get(), nullptr, true, w.get(), n, dim, 1e-6f, out.get(), nullptr);
    ExpectClose<T>(out.Download(), expected, "normed again");
    // Replacing (the embedding starts the stream): residual = add.
    cuda::AddRmsNorm<T>(residual.get(), addend.get(), /*accumulate=*/false, w.get(), n, dim, 1e-6f,
                        out.get(), nullptr);
    RmsNorm(add.data(), weight.data(), n, dim, 1e-6f, expected.data());
    EXPECT_EQ(residual.Download(), add);
    ExpectClose<T>(out.Download(), expected, "normed embedding");
  }
}

TYPED_TEST(CudaKernelsTest, SiluMul) {
  using T = TypeParam;
  const int n = 3, width = 1000;
  std::vector<float> gate_up = this->In(Random(n * 2 * width, 4, 4.0f));
  Device<T> in(gate_up), out(n * width);
  cuda::SiluMul<T>(in.get(), n, width, out.get(), nullptr);
  std::vector<float> expected(n * width);
  SiluMul(gate_up.data(), n, width, expected.data());
  ExpectClose<T>(out.Download(), expected, "silu*up");
}

TYPED_TEST(CudaKernelsTest, EmbeddingGatherOwnsOnlyItsVocabRange) {
  using T = TypeParam;
  const int hidden = 48, vocab_local = 10, vocab_begin = 10;
  std::vector<float> table = this->In(Random(vocab_local * hidden, 5));
  const std::vector<int32_t> ids = {10, 19, 3, 25, 12};
  Device<T> device_table(table), out(ids.size() * hidden);
  int32_t* device_ids = DeviceInts(ids);
  cuda::EmbeddingGather<T>(device_ids, ids.size(), device_table.get(), vocab_begin, vocab_local,
                           hidden, out.get(), nullptr);
  std::vector<float> expected(ids.size() * hidden, 0.0f);
  for (size_t t = 0; t < ids.size(); ++t) {
    const int row = ids[t] - vocab_begin;
    if (row < 0 || row >= vocab_local) continue;
    std::copy_n(table.begin() + row * hidden, hidden, expected.begin() + t * hidden);
  }
  EXPECT_EQ(out.Download(), expected);
  cudaFree(device_ids);
}

// RoPE on q and k and the KV-cache write, against the CPU RopeTable.
TYPED_TEST(CudaKernelsTest, RopeStoreKv) {
  using T = TypeParam;
  const int heads = 4, kv_heads = 2, d = 32, positions = 64, block_size = 8;
  const int q_width = heads * d, kv_width = kv_heads * d, width = q_width + 2 * kv_width;
  const std::vector<int32_t> pos = {0, 5, 63, 17};
  const std::vector<int64_t> slots = {3, 40, 9, 22};
  const int n = pos.size(), num_slots = 6 * block_size;
  std::vector<float> qkv = this->In(Random(n * width, 6));
  const RopeTables tables(positions, d);
  Device<T> in(qkv), q(n * q_width), k(num_slots * kv_width), v(num_slots * kv_width);
  Device<float> c(tables.cos), s(tables.sin);
  int32_t* device_pos = DeviceInts(pos);
  int64_t* device_slots = DeviceInts(slots);
  cuda::RopeStoreKv<T>(in.get(), n, device_pos, device_slots, c.get(), s.get(), heads, kv_heads, d,
                       q.get(), k.get(), v.get(), nullptr);
  RopeTable table(positions, d, 10000.0, 1.0);
  std::vector<float> want_q(n * q_width), got_q = q.Download(), got_k = k.Download(),
                                          got_v = v.Download();
  std::vector<float> want_k, got_k_rows, want_v, got_v_rows;
  for (int t = 0; t < n; ++t) {
    std::vector<float> row(qkv.begin() + t * width, qkv.begin() + (t + 1) * width);
    table.Apply(row.data(), heads, pos[t]);
    table.Apply(row.data() + q_width, kv_heads, pos[t]);
    std::copy_n(row.begin(), q_width, want_q.begin() + t * q_width);
    want_k.insert(want_k.end(), row.begin() + q_width, row.begin() + q_width + kv_width);
    want_v.insert(want_v.end(), row.begin() + q_width + kv_width, row.end());
    got_k_rows.insert(got_k_rows.end(), got_k.begin() + slots[t] * kv_width,
                      got_k.begin() + (slots[t] + 1) * kv_width);
    got_v_rows.insert(got_v_rows.end(), got_v.begin() + slots[t] * kv_width,
                      got_v.begin() + (slots[t] + 1) * kv_width);
  }
  ExpectClose<T>(got_q, this->In(want_q), "q");
  ExpectClose<T>(got_k_rows, this->In(want_k), "k");
  EXPECT_EQ(got_v_rows, want_v);  // V is copied, not transformed
  cudaFree(device_pos);
  cudaFree(device_slots);
}

// Paged causal attention (GQA, shuffled blocks, a prefill chunk and decode tokens of two
// sequences) against the CPU kernel, unsplit and split over key ranges.
TYPED_TEST(CudaKernelsTest, PagedAttention) {
  using T = TypeParam;
  for (int d : {8, 32, 64, 128}) {
    const int heads = 8, kv_heads = 2, block_size = 16, num_blocks = 40, max_blocks = 20;
    const int kv_width = kv_heads * d;
    std::vector<float> k = this->In(Random(num_blocks * block_size * kv_width, 10 + d));
    std::vector<float> v = this->In(Random(num_blocks * block_size * kv_width, 20 + d));
    // Sequence 0 uses blocks 39, 3, 17, ...; sequence 1 blocks 0, 22, ...
    std::vector<int32_t> tables(2 * max_blocks);
    for (int b = 0; b < max_blocks; ++b) {
      tables[b] = (39 - 7 * b + 5 * num_blocks) % num_blocks;
      tables[max_blocks + b] = (b * 22 + 1) % num_blocks;
    }
    // Sequence 0: a 5-token chunk at positions 100..104; sequence 1: decode at 250.
    std::vector<int32_t> positions = {100, 101, 102, 103, 104, 250};
    std::vector<int32_t> token_seq = {0, 0, 0, 0, 0, 1};
    const int n = positions.size();
    std::vector<float> q = this->In(Random(n * heads * d, 30 + d));
    std::vector<AttentionQuery> queries;
    for (int t = 0; t < n; ++t) {
      queries.push_back({positions[t], tables.data() + token_seq[t] * max_blocks});
    }
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    std::vector<float> expected(n * heads * d);
    PagedAttention(this->pool_, q.data(), n, queries.data(), heads,
                   PagedKvLayer{k.data(), v.data(), block_size, static_cast<size_t>(kv_heads),
                                static_cast<size_t>(d)},
                   scale, expected.data());

    Device<T> dq(q), dk(k), dv(v), out(n * heads * d);
    int32_t* device_pos = DeviceInts(positions);
    int32_t* device_seq = DeviceInts(token_seq);
    int32_t* device_tables = DeviceInts(tables);
    const int max_splits = 7;
    Device<float> partials(n * heads * max_splits * (d + 2));
    int* counters = DeviceInts(std::vector<int>(n * heads, 0));
    cuda::AttentionShape shape{heads, kv_heads, d, block_size, max_blocks, scale};
    for (int splits : {1, 3, max_splits, max_splits}) {  // twice: the counters re-arm
      cuda::PagedAttention<T>(dq.get(), n, device_pos, device_seq, device_tables, dk.get(),
                              dv.get(), shape, splits, partials.get(), counters, out.get(),
                              nullptr);
      ExpectClose<T>(out.Download(), expected,
                     "attention d=" + std::to_string(d) + " splits=" + std::to_string(splits));
    }
    cudaFree(device_pos);
    cudaFree(device_seq);
    cudaFree(device_tables);
    cudaFree(counters);
  }
}

// y = x · Wᵀ through cuBLASLt against the CPU MatMul with the same weights; the logits
// form (f32 output) too.
TYPED_TEST(CudaKernelsTest, CublasLtGemm) {
  using T = TypeParam;
  const cuda::GemmType type = kBf16<T> ? cuda::GemmType::kBF16 : cuda::GemmType::kF32;
  cuda::CublasLtGemm gemm;
  ASSERT_TRUE(gemm.Init().ok());
  for (int n : {1, 7, 64}) {
    const int m = 96, k = 256;
    std::vector<float> x = this->In(Random(n * k, 40 + n)), w = this->In(Random(m * k, 41, 0.1f));
    std::vector<float> expected(n * m);
    ThreadPool pool(2);
    MatMul(pool, x.data(), n,
           WeightMatrix{w.data(), DType::kF32, static_cast<size_t>(m), static_cast<size_t>(k)},
           expected.data());
    Device<T> dx(x), dw(w), dy(n * m);
    Device<float> logits(n * m);
    ASSERT_TRUE(gemm.Run(dx.get(), n, dw.get(), m, k, type, dy.get(), type, nullptr).ok());
    ExpectClose<T>(dy.Download(), expected, "gemm n=" + std::to_string(n));
    ASSERT_TRUE(
        gemm.Run(dx.get(), n, dw.get(), m, k, type, logits.get(), cuda::GemmType::kF32, nullptr)
            .ok());
    // f32 output: only the accumulation order differs from the CPU.
    ExpectClose<float>(logits.Download(), expected, "logits n=" + std::to_string(n));
  }
}

// The decode GEMVs (bf16, 1..8 tokens, every kernel variant) against the CPU MatMul of
// the same values.
TEST(CudaGemvTest, MatchesTheCpuForEveryTokenCountAndKernel) {
  DSM_REQUIRE_CUDA_DEVICES(1);
  ThreadPool pool(2);
  // Shapes that take each k split of the warp kernel (4, 2 and 1 warps per row), rows
  // that no block size divides, and k with a partial last pass of the block kernels.
  for (auto [m, k] : {std::pair{300, 2048}, std::pair{301, 1032}, std::pair{20000, 256}}) {
    std::vector<float> w = RoundBf16(Random(m * k, 60, 0.05f));
    for (int n = 1; n <= cuda::kMaxGemvTokens; ++n) {
      std::vector<float> x = RoundBf16(Random(n * k, 61 + n));
      std::vector<float> expected(n * m);
      MatMul(pool, x.data(), n,
             WeightMatrix{w.data(), DType::kF32, static_cast<size_t>(m), static_cast<size_t>(k)},
             expected.data());
      Device<__nv_bfloat16> dx(x), dw(w), dy(n * m);
      Device<float> df(n * m);
      for (const char* name :
           {"warp", "rows1", "rows2", "rows4", "rows8", "rows4-cs", "rows2-cs-pdl"}) {
        cuda::GemvKernel kernel;
        ASSERT_TRUE(cuda::ParseGemvKernel(name, &kernel)) << name;
        ASSERT_TRUE(cuda::GemvBf16(dx.get(), n, dw.get(), m, k, dy.get(), false, nullptr, kernel));
        ASSERT_TRUE(cuda::GemvBf16(dx.get(), n, dw.get(), m, k, df.get(), true, nullptr, kernel));
        const std::string what = std::string(name) + " m=" + std::to_string(m) +
                                 " k=" + std::to_string(k) + " n=" + std::to_string(n);
        ExpectClose<__nv_bfloat16>(dy.Download(), expected, what);
        ExpectClose<float>(df.Download(), expected, what + " f32");
      }
    }
  }
  // Shapes it cannot take are declined, not mis-computed; unknown names are refused.
  const int m = 300, k = 1024;
  Device<__nv_bfloat16> x(9 * k), y(9 * m), w9(m * k);
  EXPECT_FALSE(cuda::GemvBf16(x.get(), 9, w9.get(), m, k, y.get(), false, nullptr));
  EXPECT_FALSE(cuda::GemvBf16(x.get(), 1, w9.get(), m, k - 4, y.get(), false, nullptr));
  cuda::GemvKernel kernel;
  EXPECT_FALSE(cuda::ParseGemvKernel("rows3", &kernel));
  EXPECT_FALSE(cuda::ParseGemvKernel("-cs", &kernel));
  EXPECT_FALSE(cuda::ParseGemvKernel("rows2-pdl-cs", &kernel));
  ASSERT_TRUE(cuda::ParseGemvKernel("rows2-cs-pdl", &kernel));
  EXPECT_TRUE(kernel.streaming && kernel.overlap_previous && kernel.rows_per_block == 2);
}

// The decode step's gate/up GEMV with SiLU·mul as its epilogue stores exactly the bits of
// the two kernels it replaces, for every block kernel; other shapes are declined.
TEST(CudaGemvTest, GateUpWithSiluEpilogueEqualsGemvThenSiluMulBitForBit) {
  DSM_REQUIRE_CUDA_DEVICES(1);
  for (auto [width, k] : {std::pair{300, 2048}, std::pair{301, 1032}}) {
    // Gate sums spread over [-8, 8] so SiLU is taken on both sides and in its tails.
    Device<__nv_bfloat16> x(RoundBf16(Random(k, 70, 1.0f))),
        w(RoundBf16(Random(2 * width * k, 71, 0.25f)));
    Device<__nv_bfloat16> gate_up(2 * width), unfused(width), fused(width);
    for (const char* name : {"rows1", "rows2", "rows4-cs", "rows8", "rows2-cs-pdl"}) {
      cuda::GemvKernel kernel;
      ASSERT_TRUE(cuda::ParseGemvKernel(name, &kernel)) << name;
      ASSERT_TRUE(
          cuda::GemvBf16(x.get(), 1, w.get(), 2 * width, k, gate_up.get(), false, nullptr, kernel));
      cuda::SiluMul<__nv_bfloat16>(gate_up.get(), 1, width, unfused.get(), nullptr);
      ASSERT_TRUE(
          cuda::GemvBf16SiluMul(x.get(), 1, w.get(), width, k, fused.get(), nullptr, kernel));
      const std::vector<float> expected = unfused.Download(), got = fused.Download();
      int mismatches = 0;
      for (int i = 0; i < width; ++i) mismatches += got[i] != expected[i];
      EXPECT_EQ(mismatches, 0) << name << " width=" << width << " k=" << k
                               << ", e.g. output 0: " << got[0] << " vs " << expected[0];
    }
  }
  const int width = 300, k = 1024;
  Device<__nv_bfloat16> x(2 * k), w(2 * width * k), y(2 * width);
  cuda::GemvKernel warp;
  ASSERT_TRUE(cuda::ParseGemvKernel("warp", &warp));
  EXPECT_FALSE(cuda::GemvBf16SiluMul(x.get(), 1, w.get(), width, k, y.get(), nullptr, warp));
  EXPECT_FALSE(cuda::GemvBf16SiluMul(x.get(), 2, w.get(), width, k, y.get(), nullptr));
  EXPECT_FALSE(cuda::GemvBf16SiluMul(x.get(), 1, w.get(), width, k - 4, y.get(), nullptr));
}

// The decode step's q/k/v GEMV with RoPE and the KV-cache store as its epilogue writes
// exactly the bits of the GEMV followed by RopeStoreKv (GQA and MHA, two head sizes),
// and nothing outside the token's slot.
TEST(CudaGemvTest, QkvWithRopeEpilogueEqualsGemvThenRopeStoreKvBitForBit) {
  DSM_REQUIRE_CUDA_DEVICES(1);
  struct Shape {
    int heads, kv_heads, head_dim, k;
  };
  for (const Shape shape : {Shape{4, 2, 64, 1032}, Shape{2, 2, 128, 2048}}) {
    const int d = shape.head_dim, positions = 300, num_slots = 48, slot = 37;
    const int q_width = shape.heads * d, kv_width = shape.kv_heads * d;
    const int rows = q_width + 2 * kv_width;
    const RopeTables tables(positions, d);
    Device<float> c(tables.cos), s(tables.sin);
    Device<__nv_bfloat16> x(RoundBf16(Random(shape.k, 80, 1.0f))),
        w(RoundBf16(Random(rows * shape.k, 81, 0.1f))), qkv(rows);
    // Both runs start from the same non-zero caches, so a write outside the slot shows.
    const std::vector<float> cache_before = RoundBf16(Random(num_slots * kv_width, 82));
    Device<__nv_bfloat16> q_unfused(q_width), k_unfused(cache_before), v_unfused(cache_before);
    Device<__nv_bfloat16> q_fused(q_width), k_fused(cache_before), v_fused(cache_before);
    int32_t* position = DeviceInts(std::vector<int32_t>{291});
    int64_t* slots = DeviceInts(std::vector<int64_t>{slot});
    for (const char* name : {"rows1", "rows2-cs-pdl"}) {
      cuda::GemvKernel kernel;
      ASSERT_TRUE(cuda::ParseGemvKernel(name, &kernel)) << name;
      ASSERT_TRUE(
          cuda::GemvBf16(x.get(), 1, w.get(), rows, shape.k, qkv.get(), false, nullptr, kernel));
      cuda::RopeStoreKv<__nv_bfloat16>(qkv.get(), 1, position, slots, c.get(), s.get(), shape.heads,
                                       shape.kv_heads, d, q_unfused.get(), k_unfused.get(),
                                       v_unfused.get(), nullptr);
      cuda::QkvRopeOutputs out;
      out.positions = position;
      out.slots = slots;
      out.cos = c.get();
      out.sin = s.get();
      out.heads = shape.heads;
      out.kv_heads = shape.kv_heads;
      out.head_dim = d;
      out.q = q_fused.get();
      out.k_cache = k_fused.get();
      out.v_cache = v_fused.get();
      ASSERT_TRUE(cuda::GemvBf16QkvRope(x.get(), 1, w.get(), shape.k, out, nullptr, kernel));
      const std::string what = std::string(name) + " head_dim=" + std::to_string(d);
      EXPECT_EQ(q_fused.Download(), q_unfused.Download()) << what << ": q";
      const std::vector<float> k_cache = k_fused.Download(), v_cache = v_fused.Download();
      EXPECT_EQ(k_cache, k_unfused.Download()) << what << ": k cache";
      EXPECT_EQ(v_cache, v_unfused.Download()) << what << ": v cache";
      // And the token's k and v did land in its slot.
      EXPECT_NE(std::vector<float>(k_cache.begin() + slot * kv_width,
                                   k_cache.begin() + (slot + 1) * kv_width),
                std::vector<float>(cache_before.begin() + slot * kv_width,
                                   cache_before.begin() + (slot + 1) * kv_width))
          << what;
    }
    cudaFree(position);
    cudaFree(slots);
  }
  cuda::QkvRopeOutputs out;
  out.heads = out.kv_heads = 1;
  out.head_dim = 8;
  Device<__nv_bfloat16> x(16), w(24 * 16);
  EXPECT_FALSE(cuda::GemvBf16QkvRope(x.get(), 2, w.get(), 16, out, nullptr));
  EXPECT_FALSE(cuda::GemvBf16QkvRope(x.get(), 1, w.get(), 12, out, nullptr));
}

// Device greedy sampling over an all-gathered logits layout equals std::max_element and
// the log-softmax on the host, ties going to the lowest id.
TEST(CudaArgmaxTest, MatchesTheHostOverGatheredSlices) {
  DSM_REQUIRE_CUDA_DEVICES(1);
  const int rows = 3, world = 2, slice = 5000, vocab = world * slice;
  std::vector<float> logits = Random(rows * vocab, 50, 8.0f);  // [world, rows, slice]
  // Row 1: a tie between ids 7000 and 9000 (both in rank 1's slice) -> 7000.
  auto at = [&](int r, int v) -> float& {
    return logits[((v / slice) * rows + r) * slice + v % slice];
  };
  at(1, 7000) = 100.0f;
  at(1, 9000) = 100.0f;
  Device<float> device(logits);
  Device<float> out(2 * rows);  // ids (as int32 bits) then logprobs
  int32_t* ids = reinterpret_cast<int32_t*>(out.get());
  cuda::ArgmaxLogprob(device.get(), rows, world, slice, ids, out.get() + rows, nullptr);
  std::vector<float> got = out.Download();
  for (int r = 0; r < rows; ++r) {
    std::vector<float> row(vocab);
    for (int v = 0; v < vocab; ++v) row[v] = at(r, v);
    const int expected = std::max_element(row.begin(), row.end()) - row.begin();
    double sum = 0;
    for (float x : row) sum += std::exp(static_cast<double>(x) - row[expected]);
    int32_t id;
    std::memcpy(&id, &got[r], 4);
    EXPECT_EQ(id, expected) << "row " << r;
    EXPECT_NEAR(got[rows + r], -std::log(sum), 1e-5) << "row " << r;
  }
}

// Device summaries of gathered logits rows equal the host reference
// (worker/logits_summary.h): the same candidates in the same order (ties by lower id, also
// at the cut), the same draw, the normalisers within float rounding. Shapes: the 7B's
// vocabulary, two gathered slices, and a vocabulary smaller than the candidate count.
TEST(CudaLogitsSummaryTest, MatchesTheHostReference) {
  DSM_REQUIRE_CUDA_DEVICES(1);
  struct Shape {
    int rows, world, slice;
  };
  for (const Shape shape : {Shape{5, 1, 102400}, Shape{4, 2, 5000}, Shape{3, 1, 200}}) {
    const int rows = shape.rows, vocab = shape.world * shape.slice;
    std::vector<float> logits = Random(static_cast<size_t>(rows) * vocab, 70 + rows, 6.0f);
    // Rows past the first on a 0.25 grid: thousands of ties, some at the cut.
    for (size_t i = vocab; i < logits.size(); ++i) logits[i] = std::round(logits[i] * 4) / 4;
    auto at = [&](int r, int v) {
      return logits[(static_cast<size_t>(v / shape.slice) * rows + r) * shape.slice +
                    v % shape.slice];
    };
    const std::vector<float> temperatures = {1.0f, 0.0f, 0.7f, 1.5f, 1.0f};
    std::mt19937 rng(9);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::vector<double> uniforms(rows);
    for (double& u : uniforms) u = unit(rng);
    Device<float> device_logits(logits), device_temperatures(temperatures);
    double* device_uniforms = nullptr;
    cuda::LogitsSummaryRecord* device_records = nullptr;
    ASSERT_EQ(cudaMalloc(&device_uniforms, rows * sizeof(double)), cudaSuccess);
    ASSERT_EQ(cudaMalloc(&device_records, rows * sizeof(cuda::LogitsSummaryRecord)), cudaSuccess);
    ASSERT_EQ(
        cudaMemcpy(device_uniforms, uniforms.data(), rows * sizeof(double), cudaMemcpyHostToDevice),
        cudaSuccess);
    cuda::SummarizeLogits(device_logits.get(), rows, shape.world, shape.slice,
                          device_temperatures.get(), device_uniforms, device_records, nullptr);
    std::vector<cuda::LogitsSummaryRecord> records(rows);
    ASSERT_EQ(cudaMemcpy(records.data(), device_records, rows * sizeof(cuda::LogitsSummaryRecord),
                         cudaMemcpyDeviceToHost),
              cudaSuccess);
    cudaFree(device_uniforms);
    cudaFree(device_records);
    for (int r = 0; r < rows; ++r) {
      std::vector<float> row(vocab);
      for (int v = 0; v < vocab; ++v) row[v] = at(r, v);
      const LogitsSummary expected = SummarizeLogits(row, temperatures[r], uniforms[r]);
      const cuda::LogitsSummaryRecord& got = records[r];
      const std::string what = "vocab " + std::to_string(vocab) + " row " + std::to_string(r);
      ASSERT_EQ(static_cast<size_t>(got.count), expected.ids.size()) << what;
      EXPECT_EQ(std::vector<int32_t>(got.ids, got.ids + got.count), expected.ids) << what;
      EXPECT_EQ(std::vector<float>(got.logits, got.logits + got.count), expected.logits) << what;
      EXPECT_EQ(got.max_logit, expected.max_logit) << what;
      EXPECT_NEAR(got.log_z, expected.log_z, 1e-5 * std::abs(expected.log_z) + 1e-6) << what;
      EXPECT_NEAR(got.mass, expected.mass, 1e-5 * expected.mass) << what;
      EXPECT_EQ(got.drawn_id, expected.drawn_id) << what;
      if (expected.drawn_id >= 0) {
        EXPECT_EQ(got.drawn_logit, expected.drawn_logit) << what;
      }
    }
  }
}

}  // namespace
}  // namespace dsm
