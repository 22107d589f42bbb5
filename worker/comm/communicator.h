#pragma once
// Collective operations among the ranks of one tensor-parallel group. The model code is
// written against this interface; Gloo serves CPU ranks (host memory), NCCL GPU ranks
// (device memory, enqueued on the compute stream).

#include <chrono>
#include <cstddef>

#include "absl/status/status.h"
#include "common/dtype.h"

namespace dsm {

enum class MemorySpace { kHost, kDevice };

// The memory a collective works on: `count` elements of `dtype` at `data`, in host or
// device memory. For device memory, `stream` is the cudaStream_t the collective is
// ordered on, so it runs between the kernels around it without a host round trip.
struct CommBuffer {
  void* data = nullptr;
  size_t count = 0;
  DType dtype = DType::kF32;
  MemorySpace space = MemorySpace::kHost;
  void* stream = nullptr;

  static CommBuffer Host(float* data, size_t count) {
    return CommBuffer{data, count, DType::kF32, MemorySpace::kHost, nullptr};
  }
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // "gloo", "nccl", "single".
  virtual const char* name() const = 0;

  // Sums the buffer element-wise across ranks, in place. A communicator rejects memory
  // or dtypes it cannot reach (Gloo: host f32) with INVALID_ARGUMENT.
  virtual absl::Status AllReduceSum(const CommBuffer& buffer) = 0;

  // Concatenates every rank's `in` in rank order into `out` (world_size * in.count).
  virtual absl::Status AllGather(const CommBuffer& in, const CommBuffer& out) = 0;

  // Waits until the collectives enqueued on `stream` have finished. A communicator
  // whose collectives run asynchronously (NCCL) aborts them when `timeout` passes and
  // returns DEADLINE_EXCEEDED, so a dead or hung peer never blocks this rank for ever.
  // Host communicators finish every call before returning: OK at once.
  virtual absl::Status Synchronize(void* stream, std::chrono::milliseconds timeout);

  // Host f32 conveniences.
  absl::Status AllReduceSum(float* data, size_t count) {
    return AllReduceSum(CommBuffer::Host(data, count));
  }
  absl::Status AllGather(const float* in, size_t count, float* out) {
    return AllGather(CommBuffer::Host(const_cast<float*>(in), count),
                     CommBuffer::Host(out, count * world_size()));
  }
};

// The communicator of a group of one: collectives are identities (host memory only for
// the gather, which copies; device executors skip collectives at world size 1).
class SingleRankCommunicator : public Communicator {
 public:
  using Communicator::AllGather;
  using Communicator::AllReduceSum;

  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  const char* name() const override { return "single"; }
  absl::Status AllReduceSum(const CommBuffer&) override { return absl::OkStatus(); }
  absl::Status AllGather(const CommBuffer& in, const CommBuffer& out) override;
};

// The communicator of a rank whose group has not formed yet (a worker that registered
// with the coordinator and waits for its peers): collectives fail with
// FAILED_PRECONDITION instead of blocking.
class UnformedCommunicator : public Communicator {
 public:
  using Communicator::AllGather;
  using Communicator::AllReduceSum;

  UnformedCommunicator(int rank, int world_size) : rank_(rank), world_size_(world_size) {}
  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  const char* name() const override { return "unformed"; }
  absl::Status AllReduceSum(const CommBuffer&) override;
  absl::Status AllGather(const CommBuffer&, const CommBuffer&) override;

 private:
  int rank_;
  int world_size_;
};

}  // namespace dsm
