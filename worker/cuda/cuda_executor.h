#pragma once
// The CUDA backend: one rank's shard on one GPU. Weights stay bf16 (or are widened to
// f32 in the exact fp32 mode), GEMMs run through cuBLASLt, attention reads a paged KV
// pool in device memory, collectives go through a device communicator (NCCL) on the
// compute stream, and decode steps replay captured CUDA graphs.

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "common/model_config.h"
#include "worker/checkpoint.h"
#include "worker/comm/communicator.h"
#include "worker/executor/model_executor.h"

namespace dsm {

// Loads this rank's slices from the checkpoint onto device options.cuda_device (or the
// rank's index) and sizes the KV pool from options.gpu_memory_fraction. Errors name the
// problem: no device, fewer devices than ranks, out of memory (needed and free).
absl::StatusOr<std::unique_ptr<ModelExecutor>> CreateCudaExecutor(const ExecutorOptions& options,
                                                                  const Checkpoint& checkpoint,
                                                                  Communicator* comm);

// The same model shape with random weights generated on the device (benchmarks: no
// 13.5 GB file for DeepSeek-Math-7B's shape).
absl::StatusOr<std::unique_ptr<ModelExecutor>> CreateCudaExecutorWithRandomWeights(
    const ModelConfig& config, const ExecutorOptions& options, Communicator* comm, uint64_t seed);

}  // namespace dsm
