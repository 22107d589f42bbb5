#pragma once
// Summaries of logits rows on the device (worker/logits_summary.h says what a summary
// holds and why): rank 0 downloads 2 KB per row instead of the row.

#include <cuda_runtime.h>

#include <cstdint>

namespace dsm::cuda {

inline constexpr int kSummaryCandidates = 256;

// One row's summary as the kernel writes it (plain data, downloaded as is).
struct LogitsSummaryRecord {
  double log_z;
  double mass;
  float max_logit;
  int32_t drawn_id;  // -1 without a draw (temperature <= 0)
  float drawn_logit;
  int32_t count;  // candidates filled: min(kSummaryCandidates, vocab)
  int32_t ids[kSummaryCandidates];
  float logits[kSummaryCandidates];
};

// Row r of `rows` is spread over `world` slices of `slice` logits as the all-gather lays
// them out: logit v of row r is logits[((v / slice) * rows + r) * slice + v % slice].
// temperatures[r] and uniforms[r] parameterise row r's mass and draw.
void SummarizeLogits(const float* logits, int rows, int world, int slice, const float* temperatures,
                     const double* uniforms, LogitsSummaryRecord* out, cudaStream_t stream);

}  // namespace dsm::cuda
