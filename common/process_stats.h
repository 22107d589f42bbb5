#pragma once
// Figures about this process, for logs and benchmarks.

#include <cstdint>

namespace dsm {

// Peak resident memory (VmHWM) in bytes, or -1 where /proc does not tell.
int64_t PeakResidentBytes();

}  // namespace dsm
