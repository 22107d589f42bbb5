#include "kernels/cpu/panel_layout.h"

#include <cstdint>
#include <cstring>

namespace dsm {

size_t PanelBytes(DType dtype, size_t rows, size_t cols) {
  return PanelCount(rows) * kPanelRows * cols * DTypeSize(dtype);
}

size_t PanelSlot(DType dtype, size_t row_in_panel) {
  if (dtype != DType::kBF16) return row_in_panel;
  constexpr size_t kHalf = kPanelRows / 2;
  return row_in_panel < kHalf ? 2 * row_in_panel : 2 * (row_in_panel - kHalf) + 1;
}

void PackRow(const void* row_data, DType dtype, size_t cols, size_t row, void* packed) {
  const size_t elem = DTypeSize(dtype);
  const auto* src = static_cast<const uint8_t*>(row_data);
  uint8_t* dst = static_cast<uint8_t*>(packed) + (row / kPanelRows) * kPanelRows * cols * elem +
                 PanelSlot(dtype, row % kPanelRows) * elem;
  const size_t stride = kPanelRows * elem;
  if (elem == 2) {
    for (size_t k = 0; k < cols; ++k) std::memcpy(dst + k * stride, src + 2 * k, 2);
  } else {
    for (size_t k = 0; k < cols; ++k) std::memcpy(dst + k * stride, src + 4 * k, 4);
  }
}

void ZeroPanelPadding(DType dtype, size_t rows, size_t cols, void* packed) {
  const size_t elem = DTypeSize(dtype);
  for (size_t row = rows; row < PanelCount(rows) * kPanelRows; ++row) {
    uint8_t* dst = static_cast<uint8_t*>(packed) + (row / kPanelRows) * kPanelRows * cols * elem +
                   PanelSlot(dtype, row % kPanelRows) * elem;
    for (size_t k = 0; k < cols; ++k) std::memset(dst + k * kPanelRows * elem, 0, elem);
  }
}

void PackPanels(const void* row_major, DType dtype, size_t rows, size_t cols, void* packed) {
  const size_t row_bytes = cols * DTypeSize(dtype);
  for (size_t row = 0; row < rows; ++row) {
    PackRow(static_cast<const uint8_t*>(row_major) + row * row_bytes, dtype, cols, row, packed);
  }
  ZeroPanelPadding(dtype, rows, cols, packed);
}

}  // namespace dsm
