#pragma once
// Writes safetensors files: used by the model generator tool and by tests that need
// real (and deliberately broken) checkpoint files.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/dtype.h"

namespace dsm {

struct TensorToWrite {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // little-endian elements, row-major
};

// Converts float values to `dtype` bytes.
std::vector<uint8_t> EncodeFloats(const std::vector<float>& values, DType dtype);

// Serializes tensors to the safetensors layout (header + data), in the given order.
std::string SerializeSafetensors(const std::vector<TensorToWrite>& tensors);

absl::Status WriteSafetensors(const std::string& path, const std::vector<TensorToWrite>& tensors);

}  // namespace dsm
