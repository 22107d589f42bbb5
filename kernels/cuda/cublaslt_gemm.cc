#include "kernels/cuda/cublaslt_gemm.h"

#include "absl/strings/str_cat.h"

namespace dsm::cuda {
namespace {

absl::Status LtStatus(cublasStatus_t status, const char* what) {
  if (status == CUBLAS_STATUS_SUCCESS) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("cuBLASLt ", what,
                                          " failed: ", cublasGetStatusName(status), " (",
                                          static_cast<int>(status), ")"));
}

cudaDataType_t DataType(GemmType t) { return t == GemmType::kF32 ? CUDA_R_32F : CUDA_R_16BF; }

}  // namespace

CublasLtGemm::~CublasLtGemm() {
  for (auto& [key, plan] : plans_) {
    cublasLtMatrixLayoutDestroy(plan.a);
    cublasLtMatrixLayoutDestroy(plan.b);
    cublasLtMatrixLayoutDestroy(plan.c);
    cublasLtMatmulDescDestroy(plan.desc);
  }
  if (workspace_ != nullptr) cudaFree(workspace_);
  if (handle_ != nullptr) cublasLtDestroy(handle_);
}

absl::Status CublasLtGemm::Init(size_t workspace_bytes) {
  if (absl::Status s = LtStatus(cublasLtCreate(&handle_), "create"); !s.ok()) return s;
  workspace_bytes_ = workspace_bytes;
  if (cudaError_t err = cudaMalloc(&workspace_, workspace_bytes_); err != cudaSuccess) {
    return absl::ResourceExhaustedError(absl::StrCat("cuBLASLt workspace of ", workspace_bytes_,
                                                     " bytes: ", cudaGetErrorString(err)));
  }
  return absl::OkStatus();
}

absl::Status CublasLtGemm::MakePlan(const Key& key, Plan* plan) {
  const auto [n, m, k, in_type, out_type] = key;
  const cudaDataType_t in = DataType(static_cast<GemmType>(in_type));
  const cudaDataType_t out = DataType(static_cast<GemmType>(out_type));
  // Column-major view: yᵀ[m, n] = W[m, k] · xᵀ[k, n], W stored as a k x m column-major
  // matrix (row-major [m, k]) and used transposed.
  if (absl::Status s =
          LtStatus(cublasLtMatmulDescCreate(&plan->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F),
                   "matmul descriptor");
      !s.ok())
    return s;
  const cublasOperation_t transpose = CUBLAS_OP_T;
  cublasLtMatmulDescSetAttribute(plan->desc, CUBLASLT_MATMUL_DESC_TRANSA, &transpose,
                                 sizeof(transpose));
  if (absl::Status s = LtStatus(cublasLtMatrixLayoutCreate(&plan->a, in, k, m, k), "layout A");
      !s.ok())
    return s;
  if (absl::Status s = LtStatus(cublasLtMatrixLayoutCreate(&plan->b, in, k, n, k), "layout B");
      !s.ok())
    return s;
  if (absl::Status s = LtStatus(cublasLtMatrixLayoutCreate(&plan->c, out, m, n, m), "layout C");
      !s.ok())
    return s;
  cublasLtMatmulPreference_t preference = nullptr;
  cublasLtMatmulPreferenceCreate(&preference);
  cublasLtMatmulPreferenceSetAttribute(preference, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                       &workspace_bytes_, sizeof(workspace_bytes_));
  cublasLtMatmulHeuristicResult_t result;
  int found = 0;
  cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(
      handle_, plan->desc, plan->a, plan->b, plan->c, plan->c, preference, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(preference);
  if (status != CUBLAS_STATUS_SUCCESS || found == 0) {
    return absl::InternalError(absl::StrCat("cuBLASLt has no algorithm for n=", n, " m=", m,
                                            " k=", k, " (", cublasGetStatusName(status), ")"));
  }
  plan->algo = result.algo;
  return absl::OkStatus();
}

absl::Status CublasLtGemm::Run(const void* x, int64_t n, const void* w, int64_t m, int64_t k,
                               GemmType in, void* y, GemmType out, cudaStream_t stream) {
  if (n == 0) return absl::OkStatus();
  const Key key{n, m, k, static_cast<int>(in), static_cast<int>(out)};
  auto it = plans_.find(key);
  if (it == plans_.end()) {
    Plan plan;
    if (absl::Status s = MakePlan(key, &plan); !s.ok()) return s;
    it = plans_.emplace(key, plan).first;
  }
  const Plan& plan = it->second;
  const float alpha = 1.0f, beta = 0.0f;
  return LtStatus(cublasLtMatmul(handle_, plan.desc, &alpha, w, plan.a, x, plan.b, &beta, y, plan.c,
                                 y, plan.c, &plan.algo, workspace_, workspace_bytes_, stream),
                  "matmul");
}

}  // namespace dsm::cuda
