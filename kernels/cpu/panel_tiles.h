#pragma once
// The walk both panel GEMMs (exact and bf16 dot-product) make over one group of panels:
// n tokens in tiles as even as possible (16 tokens: 8 + 8, not 12 + 4, whose short tile
// has too few chains to hide the instruction latency), and, with several tiles, the
// input features in chunks that every tile takes before the next chunk, so a chunk of
// weights comes from DRAM once and stays in L1 for the other tiles. Each output is still
// one chain over the features in order: a tile resumes the sums the previous chunk
// stored, and a stored and reloaded f32 is the same value.

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <vector>

namespace dsm {

// Calls tile(t0, tokens, tile_index, i0, count) for every tile of at most max_tokens
// tokens over features [i0, i0 + count), chunk by chunk (one chunk of all k features when
// a single tile holds every token).
template <class Tile>
void ForEachChunkedTile(size_t n, size_t k, size_t max_tokens, size_t chunk, Tile&& tile) {
  const size_t tiles = (n + max_tokens - 1) / max_tokens;
  if (tiles == 1) chunk = k;
  for (size_t i0 = 0; i0 < k; i0 += chunk) {
    const size_t count = std::min(chunk, k - i0);
    for (size_t t0 = 0, tile_index = 0; t0 < n; ++tile_index) {
      const size_t tokens = n / tiles + (tile_index < n % tiles ? 1 : 0);
      tile(t0, tokens, tile_index, i0, count);
      t0 += tokens;
    }
  }
}

// The calling thread's [n][panels * panel_rows] sums of one group.
inline float* GroupSums(size_t n, size_t floats_per_token) {
  thread_local std::vector<float> sums;
  if (sums.size() < n * floats_per_token) sums.resize(n * floats_per_token);
  return sums.data();
}

// Where a group's tiles write token t's outputs: base + t * stride. Straight into y [n, m]
// when every row of the group is a real one; into the thread's scratch when the group
// holds the last panel's padding rows (StoreGroupSums then copies the real ones).
struct GroupOutput {
  float* base;
  size_t stride;
  bool scratch;
};

inline GroupOutput GroupOutputFor(size_t n, size_t panels, size_t panel_rows, size_t first_panel,
                                  size_t m, float* y) {
  if ((first_panel + panels) * panel_rows <= m) {
    return {y + first_panel * panel_rows, m, false};
  }
  return {GroupSums(n, panels * panel_rows), panels * panel_rows, true};
}

// Copies the group's sums (panels [first_panel, first_panel + panels) of panel_rows rows
// each) into y [n, m], leaving out the last panel's padding rows.
inline void StoreGroupSums(const float* sums, size_t n, size_t panels, size_t panel_rows,
                           size_t first_panel, size_t m, float* y) {
  for (size_t t = 0; t < n; ++t) {
    for (size_t p = 0; p < panels; ++p) {
      const size_t row0 = (first_panel + p) * panel_rows;
      if (row0 >= m) break;
      std::memcpy(y + t * m + row0, sums + (t * panels + p) * panel_rows,
                  std::min(panel_rows, m - row0) * sizeof(float));
    }
  }
}

}  // namespace dsm
