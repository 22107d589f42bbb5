#include "kernels/cpu/panel_layout.h"

#include <cstdint>
#include <cstring>

namespace dsm {

size_t PanelBytes(DType dtype, size_t rows, size_t cols) {
  return PanelCount(rows) * kPanelRows * cols * DTypeSize(dtype);
}

size_t WeightBytes(WeightLayout layout, DType dtype, size_t rows, size_t cols) {
  switch (layout) {
    case WeightLayout::kRowMajor:
      return rows * cols * DTypeSize(dtype);
    case WeightLayout::kPanels:
      return PanelBytes(dtype, rows, cols);
    case WeightLayout::kPairPanels:
      return PairPanelCount(rows) * kPairPanelRows * FeaturePairs(cols) * 2 * DTypeSize(dtype);
  }
  return 0;
}

size_t PanelSlot(DType dtype, size_t row_in_panel) {
  if (dtype != DType::kBF16) return row_in_panel;
  constexpr size_t kHalf = kPanelRows / 2;
  return row_in_panel < kHalf ? 2 * row_in_panel : 2 * (row_in_panel - kHalf) + 1;
}

namespace {
template <typename T>
void PackRowsAs(const std::vector<const void*>& rows, DType dtype, size_t cols, T* packed) {
  for (size_t panel = 0; panel < PanelCount(rows.size()); ++panel) {
    const T* src[kPanelRows] = {};
    size_t slot[kPanelRows];
    for (size_t r = 0; r < kPanelRows; ++r) {
      const size_t row = panel * kPanelRows + r;
      src[r] = row < rows.size() ? static_cast<const T*>(rows[row]) : nullptr;
      slot[r] = PanelSlot(dtype, r);
    }
    T* dst = packed + panel * kPanelRows * cols;
    for (size_t k = 0; k < cols; ++k, dst += kPanelRows) {
      for (size_t r = 0; r < kPanelRows; ++r) dst[slot[r]] = src[r] ? src[r][k] : T{0};
    }
  }
}
}  // namespace

void PackRows(const std::vector<const void*>& rows, DType dtype, size_t cols, void* packed) {
  if (DTypeSize(dtype) == 2) {
    PackRowsAs(rows, dtype, cols, static_cast<uint16_t*>(packed));
  } else {
    PackRowsAs(rows, dtype, cols, static_cast<uint32_t*>(packed));
  }
}

void PackPairRows(const std::vector<const void*>& rows, size_t cols, void* packed) {
  const size_t pairs = FeaturePairs(cols);
  auto* dst = static_cast<uint16_t*>(packed);
  for (size_t panel = 0; panel < PairPanelCount(rows.size()); ++panel) {
    for (size_t r = 0; r < kPairPanelRows; ++r) {
      const size_t row = panel * kPairPanelRows + r;
      const auto* src = row < rows.size() ? static_cast<const uint16_t*>(rows[row]) : nullptr;
      uint16_t* out = dst + (panel * pairs * kPairPanelRows + r) * 2;
      for (size_t j = 0; j < pairs; ++j, out += 2 * kPairPanelRows) {
        out[0] = src ? src[2 * j] : 0;
        out[1] = src && 2 * j + 1 < cols ? src[2 * j + 1] : 0;
      }
    }
  }
}

void PackPanels(const void* row_major, DType dtype, size_t rows, size_t cols, void* packed,
                WeightLayout layout) {
  const size_t row_bytes = cols * DTypeSize(dtype);
  std::vector<const void*> pointers(rows);
  for (size_t row = 0; row < rows; ++row) {
    pointers[row] = static_cast<const uint8_t*>(row_major) + row * row_bytes;
  }
  if (layout == WeightLayout::kPairPanels) return PackPairRows(pointers, cols, packed);
  PackRows(pointers, dtype, cols, packed);
}

}  // namespace dsm
