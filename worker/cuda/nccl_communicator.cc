#include "worker/cuda/nccl_communicator.h"

#include <cuda_runtime.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "worker/comm/rendezvous_client.h"

namespace dsm {
namespace {

absl::StatusOr<ncclDataType_t> NcclType(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return ncclFloat32;
    case DType::kBF16:
      return ncclBfloat16;
    case DType::kF16:
      return ncclFloat16;
  }
  return absl::InvalidArgumentError("unsupported dtype for NCCL");
}

// Waits while a non-blocking communicator reports ncclInProgress, up to the deadline.
ncclResult_t WaitReady(ncclComm_t comm, std::chrono::steady_clock::time_point deadline) {
  ncclResult_t state = ncclInProgress;
  while (ncclCommGetAsyncError(comm, &state) == ncclSuccess && state == ncclInProgress) {
    if (std::chrono::steady_clock::now() >= deadline) return ncclInProgress;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  return state;
}

}  // namespace

absl::StatusOr<std::unique_ptr<NcclCommunicator>> NcclCommunicator::Connect(
    const NcclOptions& options) {
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", options.rank, " is outside a group of ", options.world_size));
  }
  if (cudaError_t err = cudaSetDevice(options.device); err != cudaSuccess) {
    return absl::FailedPreconditionError(absl::StrCat("NCCL rank ", options.rank,
                                                      ": cannot use CUDA device ", options.device,
                                                      ": ", cudaGetErrorString(err)));
  }
  ncclUniqueId id;
  const std::string key = options.group_name + "/nccl_unique_id";
  if (options.world_size > 1) {
    RendezvousClient store(options.rendezvous_address, options.timeout);
    if (options.rank == 0) {
      if (ncclResult_t r = ncclGetUniqueId(&id); r != ncclSuccess) {
        return absl::InternalError(absl::StrCat("ncclGetUniqueId: ", ncclGetErrorString(r)));
      }
      if (absl::Status s = store.Set(key, std::string(id.internal, sizeof(id.internal))); !s.ok())
        return s;
    } else {
      absl::StatusOr<std::string> value = store.Get(key, options.timeout);
      if (!value.ok()) return value.status();
      if (value->size() != sizeof(id.internal)) {
        return absl::InternalError("the NCCL unique id from the rendezvous has the wrong size");
      }
      std::memcpy(id.internal, value->data(), sizeof(id.internal));
    }
  } else if (ncclResult_t r = ncclGetUniqueId(&id); r != ncclSuccess) {
    return absl::InternalError(absl::StrCat("ncclGetUniqueId: ", ncclGetErrorString(r)));
  }

  auto comm = std::unique_ptr<NcclCommunicator>(new NcclCommunicator());
  comm->rank_ = options.rank;
  comm->world_size_ = options.world_size;
  // Non-blocking init, so a peer that never arrives ends in a timeout, not a hang.
  ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
  config.blocking = 0;
  ncclResult_t r =
      ncclCommInitRankConfig(&comm->comm_, options.world_size, id, options.rank, &config);
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  if (r == ncclInProgress || r == ncclSuccess) r = WaitReady(comm->comm_, deadline);
  if (r == ncclInProgress) {
    (void)comm->Abort("init timed out");
    return absl::DeadlineExceededError(
        absl::StrCat("NCCL init of rank ", options.rank, " of ", options.world_size,
                     " timed out after ", options.timeout.count(), " ms waiting for its peers"));
  }
  if (r != ncclSuccess) {
    (void)comm->Abort("init failed");
    return absl::UnavailableError(
        absl::StrCat("NCCL init of rank ", options.rank, " failed: ", ncclGetErrorString(r)));
  }
  return comm;
}

NcclCommunicator::~NcclCommunicator() {
  if (comm_ != nullptr && !aborted_) {
    ncclCommFinalize(comm_);
    WaitReady(comm_, std::chrono::steady_clock::now() + std::chrono::seconds(10));
    ncclCommDestroy(comm_);
  }
}

absl::Status NcclCommunicator::Abort(const std::string& why) {
  if (comm_ != nullptr && !aborted_) {
    ncclCommAbort(comm_);
    aborted_ = true;
  }
  return absl::UnavailableError(
      absl::StrCat("NCCL communicator of rank ", rank_, " aborted: ", why));
}

absl::Status NcclCommunicator::Check(ncclResult_t result, const char* what) {
  if (aborted_) return absl::UnavailableError("the NCCL communicator was aborted");
  if (result == ncclInProgress) {
    result = WaitReady(comm_, std::chrono::steady_clock::now() + std::chrono::seconds(60));
  }
  if (result == ncclSuccess) return absl::OkStatus();
  return absl::UnavailableError(
      absl::StrCat("NCCL ", what, " on rank ", rank_, " failed: ", ncclGetErrorString(result)));
}

absl::Status NcclCommunicator::AllReduceSum(const CommBuffer& buffer) {
  if (buffer.space != MemorySpace::kDevice) {
    return absl::InvalidArgumentError("NCCL collectives take device buffers");
  }
  absl::StatusOr<ncclDataType_t> type = NcclType(buffer.dtype);
  if (!type.ok()) return type.status();
  return Check(ncclAllReduce(buffer.data, buffer.data, buffer.count, *type, ncclSum, comm_,
                             static_cast<cudaStream_t>(buffer.stream)),
               "all-reduce");
}

absl::Status NcclCommunicator::AllGather(const CommBuffer& in, const CommBuffer& out) {
  if (in.space != MemorySpace::kDevice || out.space != MemorySpace::kDevice) {
    return absl::InvalidArgumentError("NCCL collectives take device buffers");
  }
  if (out.count != in.count * world_size_ || in.dtype != out.dtype) {
    return absl::InvalidArgumentError("all-gather output must hold world_size inputs");
  }
  absl::StatusOr<ncclDataType_t> type = NcclType(in.dtype);
  if (!type.ok()) return type.status();
  return Check(ncclAllGather(in.data, out.data, in.count, *type, comm_,
                             static_cast<cudaStream_t>(in.stream)),
               "all-gather");
}

absl::Status NcclCommunicator::Synchronize(void* stream, std::chrono::milliseconds timeout) {
  if (aborted_) return absl::UnavailableError("the NCCL communicator was aborted");
  cudaEvent_t done;
  if (cudaEventCreateWithFlags(&done, cudaEventDisableTiming) != cudaSuccess) {
    return absl::InternalError("cannot create a CUDA event");
  }
  cudaEventRecord(done, static_cast<cudaStream_t>(stream));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  absl::Status status;
  for (;;) {
    const cudaError_t state = cudaEventQuery(done);
    if (state == cudaSuccess) break;
    if (state != cudaErrorNotReady) {
      status = absl::InternalError(
          absl::StrCat("step on rank ", rank_, " failed: ", cudaGetErrorString(state)));
      break;
    }
    ncclResult_t async = ncclSuccess;
    ncclCommGetAsyncError(comm_, &async);
    if (async != ncclSuccess && async != ncclInProgress) {
      status = Abort(absl::StrCat("a collective failed: ", ncclGetErrorString(async)));
      break;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      (void)Abort("timed out");
      status = absl::DeadlineExceededError(absl::StrCat(
          "NCCL collectives of rank ", rank_, " did not finish within ", timeout.count(),
          " ms (a peer is dead or hung); the communicator was aborted"));
      break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(20));
  }
  cudaEventDestroy(done);
  return status;
}

}  // namespace dsm
