#pragma once
// What CUDA devices this process can use. Without a driver (these build machines),
// the count is 0 and the reason is reported, so GPU work is skipped cleanly.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace dsm {

struct CudaDevice {
  int index = 0;
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  size_t total_memory = 0;
};

// The usable devices, or UNAVAILABLE with the CUDA error when there is no driver/device.
absl::StatusOr<std::vector<CudaDevice>> ListCudaDevices();

}  // namespace dsm
