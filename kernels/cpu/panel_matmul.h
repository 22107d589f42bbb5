#pragma once
// The GEMM over weights in the panel layout (panel_layout.h); MatMul calls it for such
// weights. Each output element is a single fused multiply-add chain over the input
// features in order, so its value is the same whether its token is computed alone, in a
// tile of 12, or split over threads: bitwise batch invariance by construction.

#include <cstddef>

#include "kernels/cpu/matmul.h"

namespace dsm {

void PanelMatMul(ThreadPool& pool, const float* x, size_t n, const WeightMatrix& w, float* y);

}  // namespace dsm
