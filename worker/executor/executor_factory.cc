#include "worker/executor/executor_factory.h"

#include "absl/strings/str_cat.h"
#include "worker/executor/cpu_executor.h"
#ifdef DSM_HAVE_CUDA
#include "worker/cuda/cuda_executor.h"  // CreateCudaExecutor
#endif

namespace dsm {

bool BackendCompiledIn(const std::string& backend) {
  if (backend == "cpu") return true;
#ifdef DSM_HAVE_CUDA
  if (backend == "cuda") return true;
#endif
  return false;
}

absl::StatusOr<std::unique_ptr<ModelExecutor>> CreateModelExecutor(const ExecutorOptions& options,
                                                                   const Checkpoint& checkpoint,
                                                                   Communicator* comm) {
  if (options.backend == "cpu") {
    absl::StatusOr<std::unique_ptr<CpuExecutor>> cpu =
        CpuExecutor::Create(options, checkpoint, comm);
    if (!cpu.ok()) return cpu.status();
    return std::unique_ptr<ModelExecutor>(*std::move(cpu));
  }
  if (options.backend == "cuda") {
#ifdef DSM_HAVE_CUDA
    return CreateCudaExecutor(options, checkpoint, comm);
#else
    return absl::FailedPreconditionError(
        "--backend cuda: this build has no CUDA backend (configure with -DDSM_CUDA=ON on a "
        "machine with the CUDA toolkit, cuBLAS and NCCL)");
#endif
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown backend \"", options.backend, "\"; use cpu or cuda"));
}

}  // namespace dsm
