#pragma once
// Picks the backend named by options.backend and builds its executor.

#include <memory>

#include "absl/status/statusor.h"
#include "worker/checkpoint.h"
#include "worker/comm/communicator.h"
#include "worker/executor/model_executor.h"

namespace dsm {

// "cpu" always; "cuda" when this build has the CUDA backend (else FAILED_PRECONDITION
// saying so). Anything else is INVALID_ARGUMENT naming the backends.
absl::StatusOr<std::unique_ptr<ModelExecutor>> CreateModelExecutor(const ExecutorOptions& options,
                                                                   const Checkpoint& checkpoint,
                                                                   Communicator* comm);

// Whether this build can run `backend`.
bool BackendCompiledIn(const std::string& backend);

}  // namespace dsm
