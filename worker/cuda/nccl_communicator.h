#pragma once
// Communicator over NCCL for GPU ranks: collectives on device buffers, enqueued on the
// caller's stream. Rank 0 makes the NCCL unique id and hands it to its peers through the
// Rendezvous store that the Gloo path uses. Init and Synchronize() are bounded by a
// timeout: a dead or hung peer ends in ncclCommAbort and DEADLINE_EXCEEDED, never in a
// rank blocked for ever.

#include <nccl.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "worker/comm/communicator.h"

namespace dsm {

struct NcclOptions {
  int rank = 0;
  int world_size = 1;
  std::string rendezvous_address;  // host:port of a Rendezvous service
  std::string group_name = "tp";
  int device = 0;  // CUDA device this rank uses (set current before init)
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
};

class NcclCommunicator : public Communicator {
 public:
  static absl::StatusOr<std::unique_ptr<NcclCommunicator>> Connect(const NcclOptions& options);
  ~NcclCommunicator() override;

  using Communicator::AllGather;
  using Communicator::AllReduceSum;

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  const char* name() const override { return "nccl"; }
  // Device buffers only (f32, bf16 or f16), ordered on buffer.stream.
  absl::Status AllReduceSum(const CommBuffer& buffer) override;
  absl::Status AllGather(const CommBuffer& in, const CommBuffer& out) override;
  absl::Status Synchronize(void* stream, std::chrono::milliseconds timeout) override;

 private:
  NcclCommunicator() = default;
  absl::Status Check(ncclResult_t result, const char* what);
  absl::Status Abort(const std::string& why);

  int rank_ = 0;
  int world_size_ = 1;
  ncclComm_t comm_ = nullptr;
  bool aborted_ = false;
};

}  // namespace dsm
