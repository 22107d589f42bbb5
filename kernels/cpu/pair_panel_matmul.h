#pragma once
// The GEMM of the opt-in bf16 dot-product mode (--activation-dtype bf16), over weights in
// the kPairPanels layout (panel_layout.h). Activations are rounded to bf16 (nearest
// even) and multiplied with the weights by AVX-512 BF16's VDPBF16PS: two input features
// per lane and instruction, twice the fp32 FMA rate, and no widening of the weights.
// Each output is still one chain over the feature pairs in order, whatever the tile or
// thread, so this mode is bitwise batch-invariant too; it differs from the exact mode by
// the rounding of the activations and of each pair's sum.

#include <cstddef>

#include "kernels/cpu/matmul.h"

namespace dsm {

enum class Bf16DotPath : unsigned char {
  kBest,      // VDPBF16PS where the CPU has it, else the emulation
  kEmulated,  // portable: the instruction's documented arithmetic, one output at a time
};

void PairPanelMatMul(ThreadPool& pool, const float* x, size_t n, const WeightMatrix& w, float* y,
                     Bf16DotPath path = Bf16DotPath::kBest);

// Whether this CPU executes VDPBF16PS (AVX-512 BF16); without it the mode is emulated
// (correct, much slower).
bool HasBf16DotProducts();

}  // namespace dsm
