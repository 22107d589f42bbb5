#pragma once
// Connects a rank to its group's collectives for the backend in use: Gloo (CPU) or NCCL
// (CUDA), a single-rank identity at tp 1. Used at start-up by local workers and at every
// (re)formation of a registered worker's group.

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "worker/comm/communicator.h"

namespace dsm {

struct CommSpec {
  std::string backend = "cpu";
  int rank = 0;
  int world_size = 1;
  std::string rendezvous_address;       // host:port of the Rendezvous store
  std::string group_name = "tp";        // key prefix within the store (one per formation)
  std::string bind_host = "127.0.0.1";  // Gloo: the address peers reach this rank on
  int cuda_device = 0;
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  std::chrono::milliseconds connect_timeout{0};  // the rendezvous alone; 0 = `timeout`
};

absl::StatusOr<std::unique_ptr<Communicator>> ConnectCommunicator(const CommSpec& spec);

}  // namespace dsm
