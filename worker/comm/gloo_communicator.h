#pragma once
// Communicator over Gloo's TCP transport, for CPU ranks (on one host or several).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "worker/comm/communicator.h"

namespace gloo {
class Context;
}

namespace dsm {

struct GlooOptions {
  int rank = 0;
  int world_size = 1;
  std::string rendezvous_address;       // host:port of a Rendezvous service
  std::string group_name = "tp";        // keys are prefixed with it, so groups can share a store
  std::string bind_host = "127.0.0.1";  // address this rank listens on for its peers
  // Bounds both the rendezvous and every collective: a rank that cannot reach its peers
  // gets DEADLINE_EXCEEDED instead of waiting forever.
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  // Bounds the rendezvous alone when set (0: `timeout`). A registered worker forms its
  // group with peers that are already loaded, so a missing one is known to be gone soon.
  std::chrono::milliseconds connect_timeout{0};
};

class GlooCommunicator : public Communicator {
 public:
  static absl::StatusOr<std::unique_ptr<GlooCommunicator>> Connect(const GlooOptions& options);
  ~GlooCommunicator() override;

  using Communicator::AllGather;
  using Communicator::AllReduceSum;

  int rank() const override { return rank_; }
  int world_size() const override { return world_size_; }
  const char* name() const override { return "gloo"; }
  // Host f32 buffers only.
  absl::Status AllReduceSum(const CommBuffer& buffer) override;
  absl::Status AllGather(const CommBuffer& in, const CommBuffer& out) override;

 private:
  GlooCommunicator() = default;

  int rank_ = 0;
  int world_size_ = 1;
  std::chrono::milliseconds timeout_{0};
  uint32_t next_tag_ = 0;
  std::shared_ptr<gloo::Context> context_;
};

}  // namespace dsm
