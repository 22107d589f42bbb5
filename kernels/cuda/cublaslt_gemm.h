#pragma once
// y[n, m] = x[n, k] · W[m, k]ᵀ through cuBLASLt: row-major activations times a row-major
// weight matrix (the checkpoint's layout), fp32 accumulation. Inputs are bf16 or f32
// (both the same); the output is the input type or f32 (logits). The chosen algorithm is
// cached per shape, and the workspace is fixed, so calls can be captured in CUDA graphs.

#include <cublasLt.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <tuple>

#include "absl/status/status.h"

namespace dsm::cuda {

enum class GemmType { kF32, kBF16 };

class CublasLtGemm {
 public:
  CublasLtGemm() = default;
  ~CublasLtGemm();
  CublasLtGemm(const CublasLtGemm&) = delete;
  CublasLtGemm& operator=(const CublasLtGemm&) = delete;

  absl::Status Init(size_t workspace_bytes = 32 << 20);

  absl::Status Run(const void* x, int64_t n, const void* w, int64_t m, int64_t k, GemmType in,
                   void* y, GemmType out, cudaStream_t stream);

 private:
  struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo;
  };
  using Key = std::tuple<int64_t, int64_t, int64_t, int, int>;

  absl::Status MakePlan(const Key& key, Plan* plan);

  cublasLtHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
  size_t workspace_bytes_ = 0;
  std::map<Key, Plan> plans_;
};

}  // namespace dsm::cuda
