#pragma once
// Client of the Rendezvous key-value store (proto/dsm/v1/worker.proto): how the ranks of
// a group exchange what their collectives need to connect (Gloo's addresses, NCCL's
// unique id).

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "dsm/v1/worker.grpc.pb.h"

namespace dsm {

class RendezvousClient {
 public:
  RendezvousClient(const std::string& address, std::chrono::milliseconds timeout);

  // UNAVAILABLE naming the address when the store cannot be reached within the timeout.
  absl::Status Set(const std::string& key, const std::string& value);

  // Polls until `key` is set; DEADLINE_EXCEEDED naming the key after `timeout`.
  absl::StatusOr<std::string> Get(const std::string& key, std::chrono::milliseconds timeout);

  const std::string& address() const { return address_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  std::string address_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<v1::Rendezvous::Stub> stub_;
};

}  // namespace dsm
