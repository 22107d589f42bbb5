#pragma once
// A Communicator that forwards to another and adds up the wall time spent in its
// collectives, so each step can report its all-reduce time (exported as a metric). With
// NCCL the collectives are enqueued on a stream: the time is then the host's enqueue and
// Synchronize time, not the GPU's.

#include <chrono>
#include <memory>

#include "worker/comm/communicator.h"

namespace dsm {

class TimedCommunicator : public Communicator {
 public:
  using Communicator::AllGather;
  using Communicator::AllReduceSum;

  explicit TimedCommunicator(std::unique_ptr<Communicator> inner) : inner_(std::move(inner)) {}

  int rank() const override { return inner_->rank(); }
  int world_size() const override { return inner_->world_size(); }
  const char* name() const override { return inner_->name(); }
  absl::Status AllReduceSum(const CommBuffer& buffer) override;
  absl::Status AllGather(const CommBuffer& in, const CommBuffer& out) override;
  absl::Status Synchronize(void* stream, std::chrono::milliseconds timeout) override;

  // Seconds spent in collectives since the last call.
  double TakeSeconds();

  // Swaps in the communicator of a new formation of the group (same rank and size);
  // holders of this object keep using it. Not concurrent with collectives.
  void Reset(std::unique_ptr<Communicator> inner) { inner_ = std::move(inner); }

 private:
  std::unique_ptr<Communicator> inner_;
  std::chrono::steady_clock::duration spent_{};
};

}  // namespace dsm
