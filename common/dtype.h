#pragma once
// Element types of checkpoint tensors and how big they are.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace dsm {

enum class DType : uint8_t { kF32, kF16, kBF16 };

// Bytes per element.
size_t DTypeSize(DType dtype);

// Safetensors spelling ("F32", "F16", "BF16").
const char* DTypeName(DType dtype);

// Parses a safetensors dtype; anything but F32/F16/BF16 is an error naming it.
absl::StatusOr<DType> ParseSafetensorsDType(std::string_view name);

// Scalar conversions, used by loaders and reference code (kernels use SIMD).
float BF16ToFloat(uint16_t bits);
uint16_t FloatToBF16(float value);  // round to nearest even
float F16ToFloat(uint16_t bits);
uint16_t FloatToF16(float value);

// Reads element i of a raw buffer of the given dtype as float.
float LoadAsFloat(const void* data, DType dtype, size_t i);

}  // namespace dsm
