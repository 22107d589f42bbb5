#include <cuda_runtime.h>

#include "absl/strings/str_cat.h"
#include "kernels/cuda/device_info.h"

namespace dsm {

absl::StatusOr<std::vector<CudaDevice>> ListCudaDevices() {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    return absl::UnavailableError(absl::StrCat("no usable CUDA device: ", cudaGetErrorName(err),
                                               " (", static_cast<int>(err),
                                               "): ", cudaGetErrorString(err)));
  }
  std::vector<CudaDevice> devices;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    devices.push_back(CudaDevice{i, prop.name, prop.major, prop.minor, prop.totalGlobalMem});
  }
  return devices;
}

}  // namespace dsm
