#pragma once
// The weight layout the CPU GEMM streams: rows grouped in panels of kPanelRows; within
// a panel, the weights of all its rows for input feature k are adjacent (one 64-byte
// line per k in bf16), so a kernel reads a panel front to back exactly once per tile of
// tokens and every output element is one FMA chain over k in order, whatever the tile.
// Weights are repacked into it once, at load; the last panel is padded with zeros.

#include <cstddef>
#include <vector>

#include "common/dtype.h"

namespace dsm {

// kPairPanels is the opt-in bf16 dot-product mode's layout (bf16 weights only): panels
// of kPairPanelRows rows, where each 32-bit word holds one row's weights for two
// adjacent input features (2j low, 2j + 1 high), the operand of AVX-512 BF16's
// VDPBF16PS; the 32 words of pair j (two 64-byte lines) are adjacent, in row order. An
// odd last feature is paired with a zero; the last panel is padded with zero rows.
enum class WeightLayout : unsigned char { kRowMajor, kPanels, kPairPanels };

inline constexpr size_t kPanelRows = 32;
inline constexpr size_t kPairPanelRows = 32;

inline size_t PanelCount(size_t rows) { return (rows + kPanelRows - 1) / kPanelRows; }
inline size_t PairPanelCount(size_t rows) { return (rows + kPairPanelRows - 1) / kPairPanelRows; }

// Bytes of a rows x cols matrix in the panel layout (padding included).
size_t PanelBytes(DType dtype, size_t rows, size_t cols);

// Bytes of a rows x cols matrix of `dtype` stored in `layout` (padding included).
size_t WeightBytes(WeightLayout layout, DType dtype, size_t rows, size_t cols);

// Feature pairs per row in kPairPanels: cols rounded up to even, halved.
inline size_t FeaturePairs(size_t cols) { return (cols + 1) / 2; }

// Where row r (0 <= r < kPanelRows) of a panel sits among the kPanelRows weights of one
// input feature. bf16 interleaves rows r and 16 + r in one 32-bit word, so each half of
// a word widens to f32 with one shift or one mask; f32 and f16 keep row order.
size_t PanelSlot(DType dtype, size_t row_in_panel);

// Packs a whole matrix given a pointer to each of its rows (row-major data, cols
// elements each), padding included: one pass that writes `packed` front to back.
void PackRows(const std::vector<const void*>& rows, DType dtype, size_t cols, void* packed);

// PackRows for kPairPanels: bf16 rows only.
void PackPairRows(const std::vector<const void*>& rows, size_t cols, void* packed);

// Repacks a row-major rows x cols matrix into `packed` (WeightBytes long): kPanels, or
// kPairPanels for bf16.
void PackPanels(const void* row_major, DType dtype, size_t rows, size_t cols, void* packed,
                WeightLayout layout = WeightLayout::kPanels);

}  // namespace dsm
