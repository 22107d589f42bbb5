#pragma once
// What this machine can do at most, measured in the same run as the figure compared to
// it (the build machine is shared and noisy, so only ratios taken together mean much):
// the read bandwidth from DRAM and the fp32 FMA peak, both over all pool threads.

#include "kernels/cpu/thread_pool.h"

namespace dsm {

// Bytes per second that `pool` reads from a 1 GiB buffer with vector loads (the best of
// `repeats` runs of each of several stream counts).
double MeasureReadBandwidth(ThreadPool& pool, int repeats = 5);

// fp32 FLOP per second (an FMA counts 2) of independent vector FMA chains on every
// thread of `pool` (best of `repeats`).
double MeasureFmaPeak(ThreadPool& pool, int repeats = 5);

}  // namespace dsm
