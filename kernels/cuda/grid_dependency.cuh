#pragma once
// Programmatic dependent launch (Hopper and later): a kernel launched with
// cudaLaunchAttributeProgrammaticStreamSerialization may start while the kernel before it
// in the stream still runs, once every block of that kernel has allowed it. The decode
// GEMVs use it to load weights, which depend on nothing, while their input is still being
// written. Both calls are no-ops on older GPUs and for kernels launched without it.

namespace dsm::cuda {

// Lets the next kernel in the stream launch now, if it was launched to allow that.
__device__ __forceinline__ void AllowNextGridToLaunch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;");
#endif
}

// Waits until the previous kernel in the stream has finished and its writes are visible.
__device__ __forceinline__ void WaitForPreviousGrid() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

}  // namespace dsm::cuda
