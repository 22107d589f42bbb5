#pragma once
// GPU tests skip visibly, naming the reason, where there is no CUDA device.

#include <string>

#include "gtest/gtest.h"
#include "kernels/cuda/device_info.h"

#define DSM_REQUIRE_CUDA_DEVICES(count)                                                     \
  do {                                                                                      \
    absl::StatusOr<std::vector<::dsm::CudaDevice>> dsm_devices_ = ::dsm::ListCudaDevices(); \
    if (!dsm_devices_.ok()) {                                                               \
      GTEST_SKIP() << "no CUDA device: " << dsm_devices_.status().message();                \
    }                                                                                       \
    if (dsm_devices_->size() < static_cast<size_t>(count)) {                                \
      GTEST_SKIP() << "needs " << (count) << " CUDA devices, " << dsm_devices_->size()      \
                   << " visible";                                                           \
    }                                                                                       \
  } while (0)
