#include "gtest/gtest.h"
#include "kernels/cuda/device_info.h"

namespace dsm {
namespace {

TEST(CudaDeviceTest, ListsDevicesOrSkipsWithoutOne) {
  absl::StatusOr<std::vector<CudaDevice>> devices = ListCudaDevices();
  if (!devices.ok() || devices->empty()) {
    GTEST_SKIP() << "no CUDA device: " << devices.status();
  }
  for (const CudaDevice& d : *devices) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_GE(d.compute_major, 7);
    EXPECT_GT(d.total_memory, 0u);
  }
}

}  // namespace
}  // namespace dsm
