#pragma once
// Large buffers streamed end to end (weights every decode step, the bandwidth probe)
// spare the TLB a miss every 4 KiB in 2 MiB pages. Many kernels give transparent huge
// pages only to regions advised so ("madvise" mode).

#include <cstddef>

namespace dsm {

// Advises MADV_HUGEPAGE for the 2 MiB-aligned part of [data, data + bytes). Call before
// the memory is first touched. Advice only: where the kernel has no huge pages to give,
// 4 KiB pages serve as before.
void AdviseHugePages(void* data, size_t bytes);

}  // namespace dsm
