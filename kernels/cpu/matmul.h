#pragma once
// y[n, m] = x[n, k] · W[m, k]ᵀ with W in its checkpoint dtype (F32, F16 or BF16) and
// fp32 accumulation. W is row-major as in the checkpoint, or repacked into panels
// (panel_layout.h), the layout the model runs on: its kernel streams weights faster. Each output
// element is computed by the same instruction sequence whatever n is, so a token's result does not
// depend on what else is in the batch.

#include <cstddef>

#include "common/dtype.h"
#include "kernels/cpu/panel_layout.h"
#include "kernels/cpu/thread_pool.h"

namespace dsm {

struct WeightMatrix {
  const void* data = nullptr;
  DType dtype = DType::kF32;
  size_t rows = 0;  // m: output features
  size_t cols = 0;  // k: input features
  WeightLayout layout = WeightLayout::kRowMajor;
};

void MatMul(ThreadPool& pool, const float* x, size_t n, const WeightMatrix& w, float* y);

// Name of the SIMD target the dispatcher picked (for logs and benchmarks).
const char* MatMulTargetName();

}  // namespace dsm
