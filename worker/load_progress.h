#pragma once
// Weight-loading progress callback shared by the loaders of every backend.

#include <cstddef>
#include <functional>

namespace dsm {

// Called after each tensor with (bytes loaded so far, bytes this rank will load).
using LoadProgress = std::function<void(size_t, size_t)>;

}  // namespace dsm
