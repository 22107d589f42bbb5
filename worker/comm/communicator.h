#pragma once
// Collective operations among the ranks of one tensor-parallel group. The model code is
// written against this interface; Gloo serves CPU ranks, NCCL (later) GPU ranks.

#include <cstddef>

#include "absl/status/status.h"

namespace dsm {

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual int rank() const = 0;
  virtual int world_size() const = 0;

  // Sums `count` floats element-wise across ranks, in place.
  virtual absl::Status AllReduceSum(float* data, size_t count) = 0;

  // Concatenates every rank's `count` floats in rank order into out[world_size * count].
  virtual absl::Status AllGather(const float* in, size_t count, float* out) = 0;
};

// The communicator of a group of one: collectives are identities.
class SingleRankCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  absl::Status AllReduceSum(float*, size_t) override { return absl::OkStatus(); }
  absl::Status AllGather(const float* in, size_t count, float* out) override;
};

}  // namespace dsm
