#pragma once
// Owned device and pinned-host allocations, with errors that name the size.

#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace dsm::cuda {

template <bool kPinnedHost>
class Allocation {
 public:
  Allocation() = default;
  ~Allocation() { Reset(); }
  Allocation(Allocation&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  Allocation& operator=(Allocation&& other) noexcept {
    if (this != &other) {
      Reset();
      data_ = std::exchange(other.data_, nullptr);
      bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
  }

  // RESOURCE_EXHAUSTED naming `what`, the size asked for and (device) the memory free.
  absl::Status Allocate(size_t bytes, const std::string& what) {
    Reset();
    if (bytes == 0) return absl::OkStatus();
    const cudaError_t err = kPinnedHost ? cudaMallocHost(&data_, bytes) : cudaMalloc(&data_, bytes);
    if (err != cudaSuccess) {
      data_ = nullptr;
      cudaGetLastError();  // clear the sticky-free error state
      size_t free = 0, total = 0;
      cudaMemGetInfo(&free, &total);
      return absl::ResourceExhaustedError(absl::StrCat(
          "out of ", kPinnedHost ? "pinned host" : "device", " memory for ", what, ": needed ",
          bytes, " bytes (", bytes >> 20, " MiB), ", free >> 20, " MiB of ", total >> 20,
          " MiB free on the device (", cudaGetErrorString(err), ")"));
    }
    bytes_ = bytes;
    return absl::OkStatus();
  }

  void Reset() {
    if (data_ != nullptr) kPinnedHost ? cudaFreeHost(data_) : cudaFree(data_);
    data_ = nullptr;
    bytes_ = 0;
  }

  template <typename U = void>
  U* get() const {
    return static_cast<U*>(data_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

using DeviceBuffer = Allocation<false>;
using PinnedBuffer = Allocation<true>;

// INTERNAL naming `what` and the CUDA error, or OK.
inline absl::Status CudaStatus(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return absl::OkStatus();
  return absl::InternalError(absl::StrCat(what, ": CUDA error ", cudaGetErrorName(err), " (",
                                          static_cast<int>(err), "): ", cudaGetErrorString(err)));
}

}  // namespace dsm::cuda
