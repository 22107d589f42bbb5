#pragma once
// `dsm loadtest`: load-tests a running server over gRPC or OpenAI's HTTP API.

#include <cstdint>
#include <string>

namespace dsm {

// Options shared with the other client commands (dsm_main owns those flags).
struct LoadTestClientFlags {
  std::string address;  // empty = the protocol's default local address
  float temperature = 0;
  uint64_t seed = 0;
  bool ignore_eos = false;
  double timeout_s = 0;
  std::string api_key;  // sent as a bearer token (HTTP header, gRPC metadata) when set
};

int LoadTestMain(const LoadTestClientFlags& shared);

}  // namespace dsm
