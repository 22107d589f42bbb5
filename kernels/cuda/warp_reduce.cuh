#pragma once
// Warp-level reductions shared by the CUDA kernels.

namespace dsm::cuda {

__device__ __forceinline__ float WarpSum(float v) {
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

}  // namespace dsm::cuda
