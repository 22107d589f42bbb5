#include "worker/comm/communicator.h"

#include <cstring>

namespace dsm {

absl::Status SingleRankCommunicator::AllGather(const float* in, size_t count, float* out) {
  if (out != in) std::memmove(out, in, count * sizeof(float));
  return absl::OkStatus();
}

}  // namespace dsm
